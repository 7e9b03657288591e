# Sourced by demo.sh: visual voicemail over IMAP against the lab's dovecot.
step "Voicemail: the voicemail system delivers a message to alice's mailbox (doveadm save, as an MTA would)"
head -12 voicemail/testdata/asterisk-style.eml
doveadm -c "$work/lab/dovecot/dovecot.conf" save -u alice@example.test < voicemail/testdata/asterisk-style.eml
doveadm -c "$work/lab/dovecot/dovecot.conf" save -u alice@example.test < voicemail/testdata/noaudio.eml
show csfctl voicemail list --config "$work/lab.yaml" --user alice
vm_id=$(csfctl voicemail list --config "$work/lab.yaml" --user alice --json |
  python3 -c 'import json,sys; print(next(m["id"] for m in json.load(sys.stdin) if not m.get("error")))')
show csfctl voicemail play --config "$work/lab.yaml" --user alice "$vm_id"
show csfctl voicemail export --config "$work/lab.yaml" --user alice "$vm_id" "$work/message.wav"
file "$work/message.wav" 2>/dev/null || ls -l "$work/message.wav"
show csfctl voicemail list --config "$work/lab.yaml" --user alice --json
