// Reference counting as calls, not inline code.
//
// Embedded Swift compiles its runtime's swift_retain/swift_release into every
// module, and LLVM inlines them at each of the thousands of retain/release
// sites (on armv5 each copy also calls __atomic_load_4 and
// __atomic_fetch_add_4). Scripts/lib/cross-toolchain.sh compiles the agent
// with -assume-single-threaded, which makes those sites call
// swift_nonatomic_retain & co. instead; the Embedded runtime has no such
// functions, so they are defined here, forwarding to the runtime's own
// (atomic) entry points. Nothing about reference counting changes, no object
// layout is assumed here: the agent just calls the runtime instead of carrying
// a copy of it at every site (-7 % Swift code on armv5, docs/TOOLCHAINS.md).
#include <stdint.h>

void *swift_retain(void *object);
void swift_release(void *object);
void *swift_retain_n(void *object, uint32_t n);
void swift_release_n(void *object, uint32_t n);
// 64-bit targets: String and Array storage behind a bridge object.
void *swift_bridgeObjectRetain(void *object);
void swift_bridgeObjectRelease(void *object);
void *swift_bridgeObjectRetain_n(void *object, uint32_t n);
void swift_bridgeObjectRelease_n(void *object, uint32_t n);

void *swift_nonatomic_retain(void *object) { return swift_retain(object); }
void swift_nonatomic_release(void *object) { swift_release(object); }
void *swift_nonatomic_retain_n(void *object, uint32_t n) { return swift_retain_n(object, n); }
void swift_nonatomic_release_n(void *object, uint32_t n) { swift_release_n(object, n); }
void *swift_nonatomic_bridgeObjectRetain(void *object) { return swift_bridgeObjectRetain(object); }
void swift_nonatomic_bridgeObjectRelease(void *object) { swift_bridgeObjectRelease(object); }
void *swift_nonatomic_bridgeObjectRetain_n(void *object, uint32_t n) { return swift_bridgeObjectRetain_n(object, n); }
void swift_nonatomic_bridgeObjectRelease_n(void *object, uint32_t n) { swift_bridgeObjectRelease_n(object, n); }
