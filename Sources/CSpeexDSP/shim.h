#ifndef VOICEBRIDGE_CSPEEXDSP_SHIM_H
#define VOICEBRIDGE_CSPEEXDSP_SHIM_H
#include <speex/speex_resampler.h>
#endif
