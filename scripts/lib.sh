# Shared by demo.sh and test.sh: install what OpenCSF's lab needs on a
# Debian 12 machine. Sourced, not run.

# The Debian packages of the servers the lab starts on loopback.
# libopus-dev and pkg-config build the soft phone's Opus codec (cgo); gcc and
# libc6-dev the race detector.
LAB_PACKAGES=(
  prosody dovecot-imapd dovecot-lmtpd kamailio kamailio-tls-modules radicale tftpd-hpa
  slapd ldap-utils sip-tester baresip-core ejabberd ca-certificates cyrus-common sasl2-bin
  libopus-dev libasound2-dev pkg-config gcc libc6-dev git iproute2
)

# Small tools the demo's narration uses (not the library).
DEMO_PACKAGES=(unzip file python3)

log() { printf '==> %s\n' "$*" >&2; }

need_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  command -v go >/dev/null 2>&1 || { log "Go is required (1.26 or later)"; exit 1; }
}

install_lab_servers() {
  install_packages "lab servers" "${LAB_PACKAGES[@]}"
  install_cyrus_imapd
}

# Debian's cyrus-imapd (imapd, idled) conflicts with dovecot-imapd: both
# provide imap-server. The lab needs both servers, so it takes the two
# programs out of the cyrus-imapd package without installing it, into
# /usr/local/lib/cyrus/bin, where lab looks after /usr/lib/cyrus/bin
# (cyrus-common, a dependency of both, is installed normally).
install_cyrus_imapd() {
  local bin=/usr/local/lib/cyrus/bin
  if [ -x "$bin/imapd" ] && [ -x "$bin/idled" ]; then return; fi
  if [ -x /usr/lib/cyrus/bin/imapd ] && [ -x /usr/lib/cyrus/bin/idled ]; then return; fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "need root and apt-get to put cyrus's imapd and idled into $bin"
    return 1
  fi
  log "extracting imapd and idled from cyrus-imapd into $bin"
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt-get download runs as _apt
  if (cd "$tmp" && apt-get download -qq cyrus-imapd) &&
    dpkg-deb -x "$tmp"/cyrus-imapd_*.deb "$tmp/x" &&
    install -d "$bin" &&
    install -m 0755 "$tmp/x/usr/lib/cyrus/bin/imapd" "$tmp/x/usr/lib/cyrus/bin/idled" "$bin/"; then
    rm -rf "$tmp"
  else
    rm -rf "$tmp"
    return 1
  fi
}

install_demo_tools() {
  install_packages "demo tools" "${DEMO_PACKAGES[@]}"
}

# install_packages WHAT PKG… installs the Debian packages not yet installed.
install_packages() {
  local what=$1
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "$what already installed"
    return
  fi
  log "installing $what (missing: ${missing[*]})"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "need root and apt-get to install: ${missing[*]}"
    return 1
  fi
  # Keep the packages' post-install scripts from starting system-wide
  # daemons on default ports: the lab starts its own on free ports.
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
