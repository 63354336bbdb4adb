/* Shared by the kernels' files; nothing outside engine/kernels includes this. */
#ifndef HR_KERNELS_INT_H
#define HR_KERNELS_INT_H

#include "kernels.h"

/* Every half-precision value as a float (256 KiB): a load beats decoding bits in the inner
 * loops. Filled by hr_kernels__init, which hr_matmul runs once. */
extern float hr_f16_table[65536];
void hr_kernels__init(void);

#endif
