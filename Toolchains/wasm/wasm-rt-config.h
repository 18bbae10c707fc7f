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
// the generated code, and call depth is counted instead of caught by SIGSEGV.
// wasm-rt's default depth limit is 500 nested wasm calls. See README.md for
// the value chosen and why.
#ifndef WASM_RT_MAX_CALL_STACK_DEPTH
#define WASM_RT_MAX_CALL_STACK_DEPTH 4000
#endif

// A trap (unreachable, i.e. a Swift precondition/fatalError; out-of-bounds
// access; call depth exhausted) prints its reason and aborts, like a crash of
// the native agent. No setjmp/longjmp: there is nothing to unwind to.
#define WASM_RT_TRAP_HANDLER camagent_wasm_trap
#ifndef __ASSEMBLER__
void camagent_wasm_trap(int code) __attribute__((noreturn));
#endif

#endif
