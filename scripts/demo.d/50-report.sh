# Sourced by demo.sh: every service in one framework, and the support bundle.
step "Diagnostics: alice's services in one framework against the lab — state, server, TLS peer, last error"
show csfctl report --config "$work/lab.yaml" --user alice --out "$work/problem-report.zip"
unzip -l "$work/problem-report.zip"
echo "--- the password in config.json of the report:"
unzip -p "$work/problem-report.zip" config.json | grep -E '"(Password|UserName)"'
