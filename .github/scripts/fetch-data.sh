#!/usr/bin/env bash
# fetch-data.sh DEST: download the book's data from the canonical sources (through the data
# layer, which verifies every checksum) and lay it out in DEST like the offline mirror
# ../shared/data, so that IDL_DATA_DIR=DEST serves the tests and the notebooks.
#
#   DEST/aclImdb_v1.tar.gz                      IMDB, the original archive
#   DEST/ptb/ptb.{train,valid,test}.txt          Penn Treebank (Mikolov)
#   DEST/tau-nlp-hw2/…                           the course's PTB dev split, vocabulary, Shakespeare
#   DEST/glove-samples/glove.6B.{100,300}d.sample.txt.gz
#                                                the first 100 rows of GloVe's 100-d and 300-d text
#                                                files, cut from glove.6B.zip (822 MB, not kept)
#
# Not fetched: the course's ptb-train.txt (never available; the tests expect it missing).
set -euo pipefail
dest=${1:?usage: fetch-data.sh DEST}
venv=${VENV:-.venv}

downloads=$(mktemp -d)
trap 'rm -rf "$downloads"' EXIT
mkdir -p "$dest"/ptb "$dest"/tau-nlp-hw2 "$dest"/glove-samples

# the data layer downloads into $IDL_CACHE_DIR/downloads
IDL_CACHE_DIR=$downloads IDL_DATA_DIR='' IDL_OFFLINE='' "$venv/bin/idl-book" data fetch \
  aclImdb_v1.tar.gz ptb.train.txt ptb.valid.txt ptb.test.txt ptb-dev.txt vocab.ptb.txt \
  shakespeare glove.6B.zip
got=$downloads/downloads

mv "$got/aclImdb_v1.tar.gz" "$dest/"
mv "$got"/ptb.train.txt "$got"/ptb.valid.txt "$got"/ptb.test.txt "$dest/ptb/"
for f in ptb-dev.txt vocab.ptb.txt shakespeare.txt shakespeare_for_perplexity.txt wikipedia_for_perplexity.txt; do
  mv "$got/$f" "$dest/tau-nlp-hw2/"
done
"$venv/bin/python" - "$got/glove.6B.zip" "$dest/glove-samples" <<'PY'
import gzip, itertools, sys, zipfile
from pathlib import Path

archive, out = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(archive) as zf:
    for dim in (100, 300):
        with zf.open(f"glove.6B.{dim}d.txt") as src:
            rows = b"".join(itertools.islice(src, 100))
        (out / f"glove.6B.{dim}d.sample.txt.gz").write_bytes(gzip.compress(rows, mtime=0))
PY
ls -lR "$dest"
