// A QEMU TCG plugin that counts the guest instructions a user-mode process
// executes and writes the total to a file when it exits (Scripts/bench
// --tls-cost). Debian's qemu-user (7.2) is built with plugin support but ships
// no plugins and no plugin header, so the few API entries used are declared
// here, as QEMU 7.2's plugin API version 1 defines them.
//
//   gcc -shared -fPIC -O2 -o libinsncount.so qemu-insn-count.c
//   qemu-arm -plugin ./libinsncount.so,outfile=/tmp/n ./program
//
// The agent is single-threaded, so one counter with an inline add per
// translated block executed is exact and cheap (no callback per instruction).
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t id, void *userdata),
                                    void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed;
static char outfile[4096];

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    FILE *f = fopen(outfile, "w");
    if (!f) return;
    fprintf(f, "%llu\n", (unsigned long long)executed);
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc,
                                                               char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "outfile=", 8) == 0) snprintf(outfile, sizeof(outfile), "%s", argv[i] + 8);
    }
    if (!outfile[0]) return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
