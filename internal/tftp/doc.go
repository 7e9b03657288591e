// Package tftp is a small TFTP client for provisioning: octet-mode reads
// (RFC 1350) with the option extension (RFC 2347) for the block size
// (RFC 2348), the transfer size and the timeout interval (RFC 2349).
//
// CUCM serves a CSF client's files (its device configuration, the dial
// rules, jabber-config.xml) over TFTP; no Go module for TFTP is available
// to this project, so this one is ours and tested against tftpd-hpa.
//
//	c := &tftp.Client{Timeout: time.Second}
//	data, res, err := c.Get(ctx, "127.0.0.1:69", "CUPC/AppDialRules.xml")
//
// # Errors
//
// Every error is a *[TransferError] naming the server and file and how many
// bytes arrived. It wraps an [*Error] for an ERROR packet from the server
// (matching [ErrNotFound] for code 1), [ErrTimeout] when the server is down
// or stopped answering, [ErrProtocol] for malformed packets, blocks larger
// than the block size and bad option acknowledgements, [ErrTruncated] when
// fewer bytes arrived than the server announced, [ErrTooLarge] past
// [Client.MaxSize], or the context's error when cancelled.
//
// # Concurrency
//
// A [Client] is safe for concurrent use. A transfer runs on the calling
// goroutine with a socket of its own; no goroutines are started.
package tftp
