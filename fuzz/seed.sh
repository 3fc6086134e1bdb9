#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the shared test-data corpus. Run before
# `cargo fuzz run`; safe to re-run (copies are named by content hash, so
# nothing is duplicated and inputs the fuzzer added are kept).
#
#   fuzz/seed.sh [CORPUS_DIR]     # default: /work/shared/corpus, or $EMBARGO_CORPUS
#
# Nothing written here is committed (see fuzz/.gitignore).
set -euo pipefail

src="${1:-${EMBARGO_CORPUS:-/work/shared/corpus}}"
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/corpus"

if [[ ! -d "$src" ]]; then
    echo "seed.sh: no corpus at $src" >&2
    exit 1
fi

# copy TARGET FILE...: each file as corpus/TARGET/<sha1>
copy() {
    local target="$1"
    shift
    mkdir -p "$out/$target"
    local f sum
    for f in "$@"; do
        [[ -f "$f" ]] || continue
        sum="$(sha1sum "$f" | cut -d' ' -f1)"
        cp -f "$f" "$out/$target/$sum"
        chmod u+w "$out/$target/$sum"
    done
}

# find_files DIR [find args...]: NUL-separated list into the array FILES
find_files() {
    FILES=()
    local dir="$1"
    shift
    [[ -d "$dir" ]] || return 0
    while IFS= read -r -d '' f; do FILES+=("$f"); done < <(find "$dir" -type f "$@" -print0 | sort -z)
}

# Mail: every .eml under mime/ and pgp-mime/.
find_files "$src/mime" -name '*.eml'; mail=("${FILES[@]}")
find_files "$src/pgp-mime" -name '*.eml'; mail+=("${FILES[@]}")
copy mail_parse "${mail[@]}"
# parse_inner sees decrypted payloads: the same MIME, plus the .inner
# payloads of the protected-headers vectors.
find_files "$src/pgp-mime" -name '*.inner'; inner=("${FILES[@]}")
copy mail_inner "${mail[@]}" "${inner[@]}"

# LMTP: each message wrapped in a complete session (LHLO, MAIL, RCPT, DATA
# with dot-stuffing and CRLF, QUIT), plus a few hand-written dialogues.
mkdir -p "$out/lmtp_session"
for f in "${mail[@]}"; do
    sum="$(sha1sum "$f" | cut -d' ' -f1)"
    {
        printf 'LHLO mta.example\r\nMAIL FROM:<reporter@example.org> SIZE=%d\r\nRCPT TO:<security@embargo.example>\r\nDATA\r\n' "$(stat -c %s "$f")"
        sed -e 's/\r$//' -e 's/^\./../' -e 's/$/\r/' "$f"
        printf '.\r\nQUIT\r\n'
    } > "$out/lmtp_session/$sum"
done
printf 'LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nRSET\r\nNOOP\r\nVRFY a\r\nHELP\r\nQUIT\r\n' > "$out/lmtp_session/dialogue-basic"
printf 'LHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<a@b.example>\r\nDATA\r\nFrom: a@b.example\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\nRCPT TO:<e@f.example> NOTIFY=NEVER\r\nDATA\r\n\r\n.\r\n' > "$out/lmtp_session/dialogue-pipelined"
printf 'EHLO x\r\nHELO x\r\nMAIL FROM:<a@b>\r\nLHLO x\r\nRCPT TO:<a@b>\r\nDATA\r\nBDAT 10 LAST\r\nSTARTTLS\r\nAUTH PLAIN AAAA\r\nEXPN x\r\nETRN x\r\nbogus\r\n\r\n' > "$out/lmtp_session/dialogue-errors"

# OpenPGP: everything under pgp-bad/ (licence files aside), and the .asc/.pgp files of pgp-mime/.
find_files "$src/pgp-bad" ! -name 'LICENSE*'; pgp=("${FILES[@]}")
find_files "$src/pgp-mime" \( -name '*.asc' -o -name '*.pgp' \); pgp+=("${FILES[@]}")
copy pgp_decrypt "${pgp[@]}"
# pgp_inner's inputs are packet streams (literal, compressed, signed...):
# the binary messages are the closest seeds.
find_files "$src/pgp-bad" \( -name '*.gpg' -o -name '*.pgp' -o -name '*.bin' -o -name '*.sig' \); pinner=("${FILES[@]}")
find_files "$src/pgp-mime/sequoia-openpgp/messages" -name '*.pgp'; pinner+=("${FILES[@]}")
copy pgp_inner "${pinner[@]}"

# Scans: everything under scans/.
find_files "$src/scans"; copy scan_report "${FILES[@]}"

# wgs.yaml, and the other YAML of the same folder.
find_files "$src/kubeflow" -name '*.yaml'; copy wgs_yaml "${FILES[@]}"

# Tracking IDs: a few literal subjects.
mkdir -p "$out/tracking_id"
printf 'KF-2026-0042' > "$out/tracking_id/id"
printf 'KF-2026-12345678' > "$out/tracking_id/id-long"
printf 'Re: [KF-2026-0042] Fwd: [SEC-2025-0001] report' > "$out/tracking_id/subject"
printf 'AW: [ KF-9999-99999999 ] [KF-2000-00001]' > "$out/tracking_id/subject-edge"
# Subject lines of the mail corpus.
for f in "${mail[@]}"; do
    grep -a -m1 -i '^Subject:' "$f" 2>/dev/null | cut -c10- > "$out/tracking_id/subj-$(sha1sum "$f" | cut -c1-16)" || true
done

for t in "$out"/*/; do
    printf '%-14s %5d files\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)"
done
