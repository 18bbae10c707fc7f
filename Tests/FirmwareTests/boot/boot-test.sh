#!/usr/bin/env bash
# The firmware boot test (issue 6): a synthetic vendor image -> docs/VENDOR.md's
# steps -> the patched rootfs boots in qemu-system-arm -M virt on Debian's
# armmp kernel -> the agent, started by the image's BusyBox rcS, activates over
# TLS against camagent-endpoint on the host side of a tap device, inside a
# network namespace this script creates. Then, inside the guest: the agent is
# killed and must be respawned, and `S95camagent stop` must stop it cleanly.
#
#   boot-test.sh            (run by Tests/FirmwareTests/BootTests.swift)
#
# Environment: CAMAGENT_FIRMWARE_TOOL and CAMAGENT_ENDPOINT (host binaries of
# this build). Exit 0 = passed, 77 = skipped (reason on stdout as "SKIP: ..."),
# anything else = failed. Bounded: the guest gets BOOT_TEST_SECONDS (default 180 s).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=../../../Scripts/lib/deps.sh
source "$REPO/Scripts/lib/deps.sh"
ENDPOINT_BIN=${CAMAGENT_ENDPOINT:?set CAMAGENT_ENDPOINT to the camagent-endpoint binary}
: "${CAMAGENT_FIRMWARE_TOOL:?set CAMAGENT_FIRMWARE_TOOL to the camagent-firmware binary}"
LIMIT=${BOOT_TEST_SECONDS:-180}
BOARD=hi3518ev200
SERIAL=XM0001
HOSTNAME_TLS=endpoint.camagent.test
HOST_IP=10.0.2.1 GUEST_IP=10.0.2.15

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
say() { printf 'boot-test: [%3ds] %s\n' "$SECONDS" "$*"; }

[[ $(id -u) == 0 ]] || skip "needs root (network namespace, tap device)"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun here (tap devices unavailable)"
NS=camagent-fwboot-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here (ip netns add failed)"
WORK=$(mktemp -d /tmp/camagent-fwboot.XXXXXX)
QEMU_PID="" ENDPOINT_PID=""
# TERM, then KILL after 3 s: a parent (the test runner) may have left SIGTERM
# ignored for its children, and a cleanup must not hang on that.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    [[ -n "$QEMU_PID" ]] && stop_pid "$QEMU_PID"
    [[ -n "$ENDPOINT_PID" ]] && stop_pid "$ENDPOINT_PID"
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ensure_debian_packages qemu-system-arm squashfs-tools u-boot-tools cpio qemu-user-static openssl curl python3 >/dev/null ||
    skip "the Debian packages qemu-system-arm squashfs-tools u-boot-tools cpio cannot be installed"

# --- Debian's armmp kernel (armhf) and busybox-static (armel), cached ------------
CACHE=$REPO/.build-firmware/boot-cache
mkdir -p "$CACHE"
fetch_debs() {
    local arch
    for arch in armhf armel; do
        if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
            dpkg --add-architecture "$arch" && deps_apt_update || true
        fi
    done
    local kernel
    kernel=$(apt-cache depends linux-image-armmp:armhf 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [[ -n "$kernel" ]] || return 1
    rm -rf "$CACHE/dl" && mkdir -p "$CACHE/dl"
    (cd "$CACHE/dl" && apt-get download "$kernel" busybox-static:armel >/dev/null 2>&1) || return 1
    rm -rf "$CACHE/kernel" "$CACHE/busybox"
    dpkg-deb -x "$CACHE"/dl/linux-image-*.deb "$CACHE/kernel" && dpkg-deb -x "$CACHE"/dl/busybox-static*.deb "$CACHE/busybox"
}
if ! compgen -G "$CACHE/kernel/boot/vmlinuz-*" >/dev/null || [[ ! -x "$CACHE/busybox/bin/busybox" ]]; then
    say "fetching linux-image-armmp (armhf) and busybox-static (armel) with apt-get download"
    fetch_debs || skip "Debian's linux-image-armmp:armhf or busybox-static:armel is unavailable (apt-get download failed)"
fi
VMLINUZ=$(compgen -G "$CACHE/kernel/boot/vmlinuz-*" | head -n 1)
MODULES=$(compgen -G "$CACHE/kernel/lib/modules/*" | head -n 1)
BUSYBOX=$CACHE/busybox/bin/busybox

# --- the synthetic vendor image: BusyBox rootfs, squashfs xz, in a uImage ---------
say "making the vendor image (BusyBox armel rootfs, squashfs xz 128 KiB, uImage)"
R=$WORK/vendor-root
mkdir -p "$R"/{bin,sbin,etc/init.d,proc,sys,dev,tmp,var,mnt/mtd,root,usr/bin,usr/sbin}
cp "$BUSYBOX" "$R/bin/busybox"
for applet in $(qemu-arm-static "$R/bin/busybox" --list-full); do
    [[ "$applet" == bin/busybox ]] || ln -sf /bin/busybox "$R/$applet"
done
cat >"$R/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::shutdown:/etc/init.d/rcK
EOF
# The vendor's rcS: mounts, static network, then every S?? script (Buildroot style).
cat >"$R/etc/init.d/rcS" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var && mkdir -p /var/run
# stands in for the jffs2 settings partition of a real camera
mount -t tmpfs tmpfs /mnt/mtd
hostname vendorcam
ip link set lo up
ip link set eth0 up
ip addr add $GUEST_IP/24 dev eth0
ip route add default via $HOST_IP
echo "vendor-rcS: network up"
for script in /etc/init.d/S??*; do [ -x "\$script" ] && "\$script" start; done
echo "vendor-rcS: done"
[ -x /etc/init.d/selftest ] && /etc/init.d/selftest &
EOF
cat >"$R/etc/init.d/rcK" <<'EOF'
#!/bin/sh
for script in $(ls -r /etc/init.d/S??*); do [ -x "$script" ] && "$script" stop; done
EOF
# Test scaffolding in the vendor image: once the agent has stored the identity
# it was issued, kill it (the init script must respawn it), then stop the service
# (no camagent process may remain). Bounded waits; results on the console.
cat >"$R/etc/init.d/selftest" <<'EOF'
#!/bin/sh
i=0
while [ ! -s /mnt/mtd/camagent/state ] && [ $i -lt 150 ]; do sleep 1; i=$((i+1)); done
[ -s /mnt/mtd/camagent/state ] || { echo "SELFTEST: FAIL no state file"; exit 1; }
echo "SELFTEST: state file written ($(stat -c %a /mnt/mtd/camagent/state))"
old=$(cat /var/run/camagent.pid)
kill -KILL "$old"
i=0
new=""
while [ $i -lt 30 ]; do
    sleep 1
    new=$(cat /var/run/camagent.pid 2>/dev/null)
    [ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$new" 2>/dev/null && break
    i=$((i+1))
done
if [ -n "$new" ] && [ "$new" != "$old" ]; then echo "SELFTEST: respawned (pid $old -> $new)"; else echo "SELFTEST: FAIL not respawned"; fi
sleep 3
/etc/init.d/S95camagent stop
if [ -z "$(pidof camagent)" ] && ! /etc/init.d/S95camagent status >/dev/null; then
    echo "SELFTEST: stopped cleanly"
else
    echo "SELFTEST: FAIL still running: $(pidof camagent)"
fi
echo "SELFTEST: done"
EOF
chmod 755 "$R/etc/init.d/rcS" "$R/etc/init.d/rcK" "$R/etc/init.d/selftest"
printf '127.0.0.1 localhost\n%s %s\n' "$HOST_IP" "$HOSTNAME_TLS" >"$R/etc/hosts"
echo 'root::0:0:root:/root:/bin/sh' >"$R/etc/passwd"
mksquashfs "$R" "$WORK/vendor-rootfs.sqfs" -noappend -no-progress -quiet -all-root -comp xz -b 131072 >/dev/null
mkimage -A arm -O linux -T filesystem -C none -a 0 -e 0 -n "vendorcam rootfs" \
    -d "$WORK/vendor-rootfs.sqfs" "$WORK/vendor.img" >/dev/null
VENDOR_SUM=$(sha256sum "$WORK/vendor.img" | cut -d' ' -f1)

# --- test PKI: a server certificate for the name the guest resolves ---------------
"$REPO/Scripts/lib/make-test-pki.sh" "$WORK/pki"
(
    cd "$WORK/pki"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout endpoint.key \
        -subj "/CN=$HOSTNAME_TLS" -out endpoint.csr 2>/dev/null
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$HOSTNAME_TLS" >endpoint.ext
    openssl x509 -req -in endpoint.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 \
        -extfile endpoint.ext -out endpoint.pem 2>/dev/null
)

# --- docs/VENDOR.md, step by step --------------------------------------------------
cd "$WORK"
say "VENDOR.md 1: Scripts/firmware build"
"$REPO/Scripts/firmware" build --board $BOARD --ca pki/ca.pem --endpoint https://$HOSTNAME_TLS:7443
echo "$SERIAL,00:12:34:56:78:9a" >serials.txt
say "VENDOR.md 2: Scripts/firmware provision"
"$REPO/Scripts/firmware" provision --board $BOARD --serials serials.txt --endpoint https://$HOSTNAME_TLS:7443 --out batch-0001
say "VENDOR.md 3: camagent-endpoint import-units"
"$ENDPOINT_BIN" import-units --registry registry.sqlite --csv batch-0001/units.csv
# The test reads the unit's state from /api/units: that needs an admin token.
"$ENDPOINT_BIN" token add --registry registry.sqlite --name boot-test >admin.token
say "VENDOR.md 4: Scripts/firmware patch"
"$REPO/Scripts/firmware" patch --image vendor.img --board $BOARD --config batch-0001/units/$SERIAL.conf \
    --ca pki/ca.pem --out $SERIAL.img
dumpimage -l $SERIAL.img
[[ $(sha256sum vendor.img | cut -d' ' -f1) == "$VENDOR_SUM" ]] || fail "patch modified the vendor image"
# "Flashing": the guest's virtio disk gets the uImage payload, as U-Boot would hand the partition to the kernel.
dumpimage -T filesystem -p 0 -o rootfs.sqfs $SERIAL.img >/dev/null

# --- initramfs: virtio + squashfs modules, mount the rootfs, switch_root ---------
I=$WORK/initramfs
mkdir -p "$I"/{bin,dev,proc,sys,newroot,modules}
cp "$BUSYBOX" "$I/bin/busybox"
for applet in sh mount umount insmod sleep switch_root poweroff echo; do ln -s busybox "$I/bin/$applet"; done
INITRAMFS_MODULES="virtio_mmio virtio_blk failover net_failover virtio_net squashfs"
for module in $INITRAMFS_MODULES; do
    file=$(find "$MODULES" -name "$module.ko" -print -quit)
    [[ -n "$file" ]] || skip "the armmp kernel package has no $module.ko"
    cp "$file" "$I/modules/"
done
cat >"$I/init" <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $INITRAMFS_MODULES; do insmod /modules/\$m.ko || echo "initramfs: insmod \$m failed"; done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
if ! mount -t squashfs -o ro /dev/vda /newroot; then echo "initramfs: cannot mount /dev/vda"; poweroff -f; fi
echo "initramfs: rootfs mounted, switching"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/init
EOF
chmod 755 "$I/init"
(cd "$I" && find . | cpio -o -H newc --quiet | gzip -1 >"$WORK/initrd.gz")

# --- network namespace: tap0 is the guest's link; the endpoint listens on it ----
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add dev tap0 mode tap
ip netns exec "$NS" ip addr add $HOST_IP/24 dev tap0
ip netns exec "$NS" ip link set tap0 up
openssl rand -hex 32 >ticket.key
ip netns exec "$NS" "$ENDPOINT_BIN" serve --listen $HOST_IP:7443 --admin 127.0.0.1:7001 --registry registry.sqlite \
    --ticket-key-file ticket.key --streampoint sp1=tls://$HOSTNAME_TLS:7100 \
    --tls-cert pki/endpoint.pem --tls-key pki/endpoint.key >endpoint.out 2>endpoint.err &
ENDPOINT_PID=$!

say "booting the patched image: qemu-system-arm -M virt, $(basename "$VMLINUZ"), tap0 in netns $NS"
BOOT_START=$SECONDS
ip netns exec "$NS" qemu-system-arm -M virt -cpu cortex-a15 -m 256 -no-reboot \
    -display none -monitor none -serial "file:$WORK/console.log" \
    -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" -append "console=ttyAMA0 panic=-1" \
    -drive if=none,id=rootfs,file="$WORK/rootfs.sqfs",format=raw,readonly=on -device virtio-blk-device,drive=rootfs \
    -netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device virtio-net-device,netdev=net0 \
    >qemu.out 2>&1 &
QEMU_PID=$!

units() {
    ip netns exec "$NS" curl -s --max-time 5 -H "Authorization: Bearer $(cat admin.token)" \
        http://127.0.0.1:7001/api/units 2>/dev/null || true
}
unit_state() {
    units | python3 -c "import json,sys
try: u=[x for x in json.load(sys.stdin) if x.get('serial')=='$SERIAL']
except Exception: u=[]
print(u[0]['state'] if u else 'none', u[0].get('activations', 0) if u else 0)" 2>/dev/null || echo "none 0"
}
activated_at="" done_at=""
while ((SECONDS - BOOT_START < LIMIT)); do
    kill -0 "$QEMU_PID" 2>/dev/null || break
    if [[ -z "$activated_at" && "$(unit_state)" == active* ]]; then
        activated_at=$((SECONDS - BOOT_START))
        say "unit $SERIAL is active on the endpoint, ${activated_at}s after qemu started"
    fi
    if grep -q "SELFTEST: done" "$WORK/console.log" 2>/dev/null; then done_at=$((SECONDS - BOOT_START)); break; fi
    sleep 1
done

echo "----- guest console (last 60 lines)"
tail -n 60 "$WORK/console.log" 2>/dev/null | tr -d '\r' || true
echo "----- endpoint stderr"
tail -n 20 endpoint.err || true
echo "-----"
console=$(tr -d '\r' <"$WORK/console.log")
grep -q "initramfs: rootfs mounted" <<<"$console" || fail "the initramfs did not mount the patched rootfs"
grep -q "camagent: supervisor started" <<<"$console" || fail "the init script did not start the agent"
grep -q "endpoint: unit $SERIAL activated as cam-$SERIAL" <<<"$console" || fail "the agent did not log its activation"
[[ -n "$activated_at" ]] || fail "the endpoint never listed unit $SERIAL as active"
grep -q "activated unit $SERIAL as agent cam-$SERIAL" endpoint.err || fail "the endpoint did not log the activation"
[[ $(grep -c "activated unit $SERIAL" endpoint.err) == 1 ]] || fail "the unit activated more than once (the respawned agent must reuse its stored identity)"
grep -q "SELFTEST: state file written (600)" <<<"$console" || fail "the state file is missing or not mode 600"
grep -q "SELFTEST: respawned" <<<"$console" || fail "the agent was not respawned after it was killed"
grep -q "SELFTEST: stopped cleanly" <<<"$console" || fail "S95camagent stop left the agent running"
# The respawned agent starts as cam-XM0001 (the stored identity) and logs in with it.
grep -q "camagent: agent cam-$SERIAL starting" <<<"$console" || fail "the respawned agent did not start with its stored identity"
grep -q "endpoint: authenticated to $HOSTNAME_TLS:7443 as cam-$SERIAL" <<<"$console" || fail "the agent never logged in with its issued identity"
grep -q "agent cam-$SERIAL authenticated" endpoint.err || fail "the endpoint did not see the agent log in"
if grep -q "FAIL" <<<"$console"; then fail "a guest self-test step failed"; fi
say "PASS: activation ${activated_at}s after boot start, guest self-test done at ${done_at}s"
