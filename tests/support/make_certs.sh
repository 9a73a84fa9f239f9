#!/bin/sh
# Makes a throw-away PKI for the TLS tests in DIR:
#   ca.crt            the CA the tests trust (--cacert)
#   server.crt/.key   for localhost and 127.0.0.1, signed by ca
#   client.crt/.key   a client certificate signed by ca (mutual TLS)
#   other-ca.crt      a CA the tests do not trust
#   other-server.crt/.key  for localhost and 127.0.0.1, signed by other-ca
#   server2.crt/.key  a second certificate for the same names, signed by ca
# EC keys: generating them takes milliseconds.
set -eu
dir=$1
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 2 -subj "/CN=tbucket test $1" 2>/dev/null
}
signed() {  # name, subject, extensions[, CA: ca]
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "${4:-ca}.crt" -CAkey "${4:-ca}.key" -CAcreateserial -out "$1.crt" -days 2 \
        -extfile "$1.ext" 2>/dev/null
}
ca ca
ca other-ca
signed server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1"
signed client "/CN=tbucket client" "extendedKeyUsage=clientAuth"
signed server2 "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1"
signed other-server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1" other-ca
