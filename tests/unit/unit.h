/* cmocka needs these includes first, in this order (so clang-format must not sort them). */
#ifndef SB_UNIT_H
#define SB_UNIT_H

/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#endif
