# Sourced by demo.sh: application dial rules as CUCM publishes them.
step "Dial rules: CUCM's AppDialRules.xml turns what users paste into what the phone dials"
cat > "$work/AppDialRules.xml" <<'XML'
<DialRules>
  <DialRule NumDigits="7" PrefixWith="9"/>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2" PrefixWith="91"/>
  <DialRule BeginsWith="+" NumDigits="13" DigitsToRemove="1" PrefixWith="9011"/>
</DialRules>
XML
cat "$work/AppDialRules.xml"
show csfctl dial --rules "$work/AppDialRules.xml" 555-1234 "+1 (408) 555-1234" "+44 20 7946 0958" 2001
show csfctl dial --rules "$work/AppDialRules.xml" --explain "+1 (408) 555-1234"
