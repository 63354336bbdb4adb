/* What the CPU and the OS offer, by cpuid and xgetbv (not __builtin_cpu_supports: clang 14
 * lacks f16c there). Every SIMD set also needs FMA and F16C and the OS saving the wider
 * register state. Any thread. */
#include "kernels_int.h"

#if defined(__x86_64__)
#include <cpuid.h>

bool hr_kernels__cpu_has(unsigned xcr0_bits, unsigned leaf7_ebx_bits, unsigned leaf7_ecx_bits)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    bool fma = c & (1u << 12), f16c = c & (1u << 29), osxsave = c & (1u << 27);
    if (!fma || !f16c || !osxsave)
        return false;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & xcr0_bits) != xcr0_bits)
        return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return false;
    return (b & leaf7_ebx_bits) == leaf7_ebx_bits && (c & leaf7_ecx_bits) == leaf7_ecx_bits;
}

#else

bool hr_kernels__cpu_has(unsigned xcr0_bits, unsigned leaf7_ebx_bits, unsigned leaf7_ecx_bits)
{
    (void)xcr0_bits, (void)leaf7_ebx_bits, (void)leaf7_ecx_bits;
    return false;
}

#endif
