# Sourced by demo.sh: a phone call between two lab users through kamailio.
step "Soft phone: bob answers, alice calls him through kamailio with a tone, DTMF and a hang-up after 3 s"
show csfctl tone "$work/tone.wav" --hz 440 --duration 5s
csfctl answer --config "$work/lab.yaml" --user bob --calls 1 --record "$work/bob.wav" >"$work/bob.out" 2>"$work/bob.err" &
bob_pid=$!
for _ in $(seq 1 100); do
  grep -q '^ready' "$work/bob.out" 2>/dev/null && break
  kill -0 "$bob_pid" 2>/dev/null || break
  sleep 0.1
done
show csfctl call sip:bob@example.test --config "$work/lab.yaml" --user alice \
  --play "$work/tone.wav" --dtmf 12# --hangup-after 3s
wait "$bob_pid" || true
echo "--- bob's side (csfctl answer --calls 1):"
cat "$work/bob.out"
ls -l "$work/bob.wav"
