/* CI only, for Wine 8 (Debian 12): Wine < 9 has no bcryptprimitives.dll, from which Rust's std
 * (>= 1.78) imports ProcessPrng, so every Rust .exe fails to start there (c0000135). Real
 * Windows (8 and later) and Wine >= 9 have it. This stub forwards to RtlGenRandom
 * (advapi32's SystemFunction036), the system CSPRNG older Rust used; .ci/steps.d/40-windows.sh
 * builds it with mingw and puts it into the test prefix's system32. Not shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
