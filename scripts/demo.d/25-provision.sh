# Sourced by demo.sh: dial rules provisioned from the lab's TFTP server, and
# a rule change taking effect without a restart.
step "Provisioning: CUCM's TFTP files (here tftpd-hpa from the lab) configure the client"
tftp_root=$(sed -n 's/^ *tftp .*(root \(.*\))$/\1/p' "$work/lab.out")
mkdir -p "$tftp_root/CUPC"
cat > "$tftp_root/CUPC/AppDialRules.xml" <<'XML'
<DialRules>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2" PrefixWith="91"/>
</DialRules>
XML
cat > "$tftp_root/CUPC/DirLookupDialRules.xml" <<'XML'
<DialRules>
  <DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="7"/>
</DialRules>
XML
cat > "$tftp_root/CSFalice.cnf.xml" <<'XML'
<device>
  <deviceProtocol>SIP</deviceProtocol>
  <devicePool>
    <callManagerGroup>
      <members>
        <member priority="0">
          <callManager>
            <name>cucm-pub</name>
            <processNodeName>127.0.0.1</processNodeName>
            <ports><sipPort>5060</sipPort></ports>
          </callManager>
        </member>
      </members>
    </callManagerGroup>
  </devicePool>
  <sipProfile>
    <sipLines>
      <line button="1">
        <featureLabel>Alice</featureLabel>
        <name>2001</name>
        <displayName>Alice Example</displayName>
        <authName>alice</authName>
      </line>
    </sipLines>
  </sipProfile>
</device>
XML
cat > "$tftp_root/jabber-config.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<config version="1.0">
  <Client><PrtLogServerUrl>http://127.0.0.1:1/prt</PrtLogServerUrl></Client>
  <Voicemail><VoicemailFolder>Voice Messages</VoicemailFolder></Voicemail>
  <Policies><StopWhenLastAppDetaches>true</StopWhenLastAppDetaches></Policies>
</config>
XML
export XDG_CACHE_HOME="$work/cache"
show csfctl provision fetch --config "$work/lab.yaml" --user alice
show csfctl provision show --config "$work/lab.yaml" --user alice
show csfctl dial --config "$work/lab.yaml" --user alice "+1 408 555 1234"

step "The admin changes the dial rules on the server; the next check picks them up: 91… becomes 8…, no restart"
cat > "$tftp_root/CUPC/AppDialRules.xml" <<'XML'
<DialRules>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2" PrefixWith="8"/>
</DialRules>
XML
show csfctl provision fetch --config "$work/lab.yaml" --user alice
show csfctl dial --config "$work/lab.yaml" --user alice --explain "+1 408 555 1234"

step "A broken file on the server: rejected, the last good rules stay in force"
echo '<DialRules><DialRule NumDigits="3" DigitsToRemove="9"/></DialRules>' > "$tftp_root/CUPC/AppDialRules.xml"
show csfctl provision fetch --config "$work/lab.yaml" --user alice || true
show csfctl dial --config "$work/lab.yaml" --user alice "+1 408 555 1234"
