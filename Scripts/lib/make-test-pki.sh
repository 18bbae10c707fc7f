#!/usr/bin/env bash
# make-test-pki.sh DIR [--server NAME DNS[,DNS...]]...: a throwaway PKI for tests
# and the demo (openssl CLI only, no network). All keys are EC P-256;
# certificates are SHA-256, PEM.
#
#   ca.pem, ca.key                  test CA ("camagent test CA")
#   server.pem, server.key          SAN DNS:localhost, valid now (from 1 day ago), signed by ca
#   expired.pem, expired.key        SAN DNS:localhost, validity entirely in the past, signed by ca
#   wrongname.pem, wrongname.key    SAN DNS:wrong.example, valid now, signed by ca
#   other-ca.pem, other-ca.key      an unrelated CA
#   other-server.pem, other-server.key  SAN DNS:localhost, valid now, signed by other-ca
#
#   NAME.pem, NAME.key              one per --server: SAN DNS:each name given, valid
#                                   now, signed by ca (e.g. --server ep1 ep1.lab.test
#                                   for a lab whose agents dial ep1.lab.test)
#
# DIR/.pki holds the openssl config, CA databases and CSRs. Idempotent: a
# complete PKI in DIR is left as it is; anything partial is made again. Quiet
# unless something fails. These keys are for tests only: never deploy them.
set -euo pipefail

usage() { echo "usage: $0 DIR [--server NAME DNS[,DNS...]]..." >&2; exit 64; }
(($# >= 1)) || usage
dir=$1
shift
extra_names=() extra_sans=()
while (($#)); do
    [[ $1 == --server && $# -ge 3 ]] || usage
    # NAME becomes a file name: keep it to a safe alphabet.
    [[ $2 =~ ^[A-Za-z0-9._-]+$ && $2 != .* ]] || { echo "make-test-pki: bad --server name '$2'" >&2; exit 64; }
    [[ $3 =~ ^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]+)*$ ]] || { echo "make-test-pki: bad DNS name list '$3'" >&2; exit 64; }
    extra_names+=("$2")
    extra_sans+=("$3")
    shift 3
done
outputs=(ca.pem ca.key server.pem server.key expired.pem expired.key wrongname.pem wrongname.key
         other-ca.pem other-ca.key other-server.pem other-server.key)

complete=1
for f in "${outputs[@]}"; do
    [[ -s "$dir/$f" ]] || { complete=0; break; }
done
[[ -e "$dir/.pki/complete" ]] || complete=0

# Issues the --server certificates that are not there yet (the CA exists by now).
make_extra_servers() {
    local i name
    for i in "${!extra_names[@]}"; do
        name=${extra_names[i]}
        [[ -s "$dir/$name.pem" && -s "$dir/$name.key" ]] && continue
        make_leaf "$name" ca "${extra_sans[i]}" "$valid_from" "$valid_until"
        chmod 644 "$dir/$name.pem"
    done
}

if [[ $complete -eq 1 && ${#extra_names[@]} -eq 0 ]]; then exit 0; fi

command -v openssl >/dev/null || { echo "make-test-pki: openssl not found (apt-get install openssl)" >&2; exit 69; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
state=$dir/.pki
if [[ $complete -eq 0 ]]; then
    rm -rf "$state"
    mkdir -p "$state"
fi
umask 077

# Runs openssl quietly; on failure shows what it said and stops.
ossl() {
    local output
    if ! output=$(openssl "$@" 2>&1); then
        echo "make-test-pki: openssl $1 failed:" >&2
        echo "$output" >&2
        exit 1
    fi
}

cat > "$state/openssl.cnf" <<'EOF'
# Minimal config for make-test-pki.sh; $ENV::PKI_* are set per invocation.
[ ca ]
default_ca = testca

[ testca ]
dir = $ENV::PKI_CA_STATE
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_any ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::PKI_SAN
EOF
export PKI_SAN=DNS:unused PKI_CA_STATE=$state/unused
cnf=$state/openssl.cnf

newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$1.key"; }

now=$(date -u +%s)
stamp() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
valid_from=$(stamp $((now - 86400)))          # a day of slack for skewed clocks
valid_until=$(stamp $((now + 825 * 86400)))
ca_until=$(stamp $((now + 3650 * 86400)))

# make_ca NAME "Common Name"
make_ca() {
    newkey "$1"
    mkdir -p "$state/$1/issued"
    : > "$state/$1/index.txt"
    echo 1000 > "$state/$1/serial"
    ossl req -config "$cnf" -new -key "$dir/$1.key" -subj "/CN=$2" -out "$state/$1.csr"
    PKI_CA_STATE=$state/$1 ossl ca -batch -config "$cnf" -selfsign -notext -keyfile "$dir/$1.key" \
        -in "$state/$1.csr" -out "$dir/$1.pem" -extensions v3_ca -startdate "$valid_from" -enddate "$ca_until"
}

# make_leaf NAME CA DNS[,DNS...] START END  (CN is the first name)
make_leaf() {
    local san
    san=DNS:${3//,/,DNS:}
    newkey "$1"
    ossl req -config "$cnf" -new -key "$dir/$1.key" -subj "/CN=${3%%,*}" -out "$state/$1.csr"
    PKI_CA_STATE=$state/$2 PKI_SAN=$san ossl ca -batch -config "$cnf" -notext \
        -cert "$dir/$2.pem" -keyfile "$dir/$2.key" -in "$state/$1.csr" -out "$dir/$1.pem" \
        -extensions server -startdate "$4" -enddate "$5"
}

if [[ $complete -eq 1 ]]; then
    make_extra_servers
    exit 0
fi

make_ca ca "camagent test CA"
make_ca other-ca "camagent other test CA"
make_leaf server ca localhost "$valid_from" "$valid_until"
make_leaf expired ca localhost 20200101000000Z 20200201000000Z
make_leaf wrongname ca wrong.example "$valid_from" "$valid_until"
make_leaf other-server other-ca localhost "$valid_from" "$valid_until"

chmod 644 "$dir"/*.pem
touch "$state/complete"
make_extra_servers
