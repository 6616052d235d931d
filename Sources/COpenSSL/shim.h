#ifndef VOICEBRIDGE_COPENSSL_SHIM_H
#define VOICEBRIDGE_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

// EVP_sha1()/EVP_sha256() are plain functions, but keeping the digest choice in C lets Swift
// pass a small enum instead of an opaque EVP_MD pointer.
static inline const EVP_MD *vb_evp_sha1(void) { return EVP_sha1(); }
static inline const EVP_MD *vb_evp_sha256(void) { return EVP_sha256(); }
#endif
