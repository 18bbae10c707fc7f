// wasm-rt-config.h: wasm2c runtime settings for the agent, force-included
// (-include) into the generated module C, wasm-rt-impl.c and host.c, so all
// three agree. See Toolchains/wasm/README.md for the reasoning.
#ifndef CAMAGENT_WASM_RT_CONFIG_H
#define CAMAGENT_WASM_RT_CONFIG_H

// Byte order of linear memory. wasm2c's generated code and runtime test
// `#if WABT_BIG_ENDIAN`; it must be 1 exactly on big-endian hosts.
#ifndef WABT_BIG_ENDIAN
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WABT_BIG_ENDIAN 1
#else
#define WABT_BIG_ENDIAN 0
#endif
#endif
#if defined(__BYTE_ORDER__) && ((__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) != (WABT_BIG_ENDIAN != 0))
#error "WABT_BIG_ENDIAN does not match the target's byte order"
#endif

// 32-bit hosts have no guard-page bounds checking (wasm-rt: "signal handler
// not supported on 32-bit platforms"): every load/store is range-checked in
// the generated code. wasm2c would then also count nested wasm calls and trap
// past a limit; that costs a counter update in every function's prologue and
// epilogue (-45 KB on mipsel). Off: a wasm call is a C call, so runaway
// recursion overflows the native stack into the kernel's guard gap and faults
// (host.c reports it), which is as safe: nothing past the stack is written.
// See README.md.
#ifndef WASM_RT_USE_STACK_DEPTH_COUNT
#define WASM_RT_USE_STACK_DEPTH_COUNT 0
#endif

// A trap (unreachable, i.e. a Swift precondition/fatalError; out-of-bounds
// access; call depth exhausted) prints its reason and aborts, like a crash of
// the native agent. No setjmp/longjmp: there is nothing to unwind to.
#define WASM_RT_TRAP_HANDLER camagent_wasm_trap
#ifndef __ASSEMBLER__
void camagent_wasm_trap(int code) __attribute__((noreturn));
#endif

#endif
