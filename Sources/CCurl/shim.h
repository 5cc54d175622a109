// CCurl: libcurl for Swift.
//
// `curl_easy_setopt`, `curl_easy_getinfo` and `curl_multi_setopt` are variadic C functions, which Swift cannot
// call. Each wrapper below fixes one argument kind, so the Swift side stays type-checked. Macros that Swift
// cannot import (CURLVERSION_NOW, CURL_WRITEFUNC_PAUSE, …) are re-exported as constants.
#ifndef GATEWAY_CCURL_SHIM_H
#define GATEWAY_CCURL_SHIM_H

#include <curl/curl.h>
#include <fcntl.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*ccurl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

static inline CURLcode ccurl_easy_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback cb) {
    return curl_easy_setopt(handle, option, cb);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

/// `CURLOPT_SOCKOPTFUNCTION`: marks every socket curl opens close-on-exec (curl does not), so a process the
/// gateway's process starts never inherits an upstream connection and keeps it open after curl closed it.
static int ccurl_sockopt_close_on_exec(void *clientp, curl_socket_t socket, curlsocktype purpose) {
    (void)clientp;
    (void)purpose;
    int flags = fcntl(socket, F_GETFD);
    if (flags >= 0) {
        (void)fcntl(socket, F_SETFD, flags | FD_CLOEXEC);
    }
    return CURL_SOCKOPT_OK;
}

static inline CURLcode ccurl_easy_set_close_on_exec(CURL *handle) {
    return curl_easy_setopt(handle, CURLOPT_SOCKOPTFUNCTION, ccurl_sockopt_close_on_exec);
}

/// Names the calling thread (shown by `top -H`, `gdb`, `/proc/<pid>/task/*/comm`); Linux only, a no-op elsewhere.
static inline void ccurl_set_thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#else
    (void)name;
#endif
}

/// How many CPUs the calling thread may run on (its affinity mask: `taskset`, a cpuset), or 0 when unknown (not
/// Linux, or more than 1024 CPUs). The raw system call, because glibc's `CPU_COUNT` is a macro.
static inline int ccurl_allowed_cpu_count(void) {
#ifdef __linux__
    unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {0};
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
    if (bytes <= 0) return 0;
    int count = 0;
    for (long i = 0; i < bytes / (long)sizeof(unsigned long); i++) count += __builtin_popcountl(mask[i]);
    return count;
#else
    return 0;
#endif
}

static const unsigned int CCURL_VERSION_NOW = CURLVERSION_NOW;
static const size_t CCURL_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;
static const size_t CCURL_READFUNC_PAUSE = CURL_READFUNC_PAUSE;
static const int CCURL_PAUSE_CONT = CURLPAUSE_CONT;
static const int CCURL_PAUSE_RECV = CURLPAUSE_RECV;
static const long CCURL_GLOBAL_ALL = CURL_GLOBAL_ALL;
static const long CCURL_PROTO_HTTP_HTTPS = CURLPROTO_HTTP | CURLPROTO_HTTPS;
static const int CCURL_VERSION_ASYNCHDNS = CURL_VERSION_ASYNCHDNS;
static const int CCURL_VERSION_THREADSAFE = CURL_VERSION_THREADSAFE;

#endif
