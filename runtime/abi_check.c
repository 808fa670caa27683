/* Compiles axonn_rt.h as strict C99: the ABI must stay plain C. */
#include "axonn_rt.h"

int axonn_rt_abi_version_check[AXONN_RT_ABI_VERSION == 10 ? 1 : -1];
