#ifndef VOICEBRIDGE_CSPANDSP_SHIM_H
#define VOICEBRIDGE_CSPANDSP_SHIM_H
// spandsp.h includes tiffio.h (for its fax code), so libtiff-dev must be present at build time.
#include <stdint.h>
#include <inttypes.h>
#include <tiffio.h>
#include <spandsp.h>
#endif
