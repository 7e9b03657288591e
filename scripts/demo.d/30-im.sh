# Sourced by demo.sh: two users chatting through prosody with the im service.
step "Chat: bob listens, alice adds him as a contact and sends him two messages"
show csfctl roster add bob@example.test --config "$work/lab.yaml" --user alice --name Bob --group Team --subscribe
show csfctl roster --config "$work/lab.yaml" --user alice
rm -f "$work/bob.ready"
csfctl chat listen --config "$work/lab.yaml" --user bob --count 2 --timeout 30s \
  --ready-file "$work/bob.ready" >"$work/bob.out" 2>"$work/bob.err" &
bob_pid=$!
for _ in $(seq 1 300); do
  [ -e "$work/bob.ready" ] && break
  kill -0 "$bob_pid" 2>/dev/null || break
  sleep 0.1
done
show csfctl chat send --config "$work/lab.yaml" --user alice --to bob@example.test --receipt 10s "Hi Bob, lunch at noon?"
show csfctl chat send --config "$work/lab.yaml" --user alice --to bob@example.test "(sent from OpenCSF)"
wait "$bob_pid" || { cat "$work/bob.err" >&2; exit 1; }
echo "--- what bob's listener printed:"
cat "$work/bob.out"
