// See include/ThreadPool.h.
#include "ThreadPool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TP_PAUSE() _mm_pause()
#else
#define TP_PAUSE() ((void)0)
#endif

enum { TP_MAX_THREADS = 256, TP_SPIN_ROUNDS = 200000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;  // one job at a time
static int thread_count = 1;   // including the caller
static int workers_started = 0;
static atomic_int generation;   // bumped for every job
static atomic_int sleepers;
static atomic_int next_chunk;
static atomic_int finished_chunks;
static tp_job_fn current_job;
static void *current_context;
static int current_chunks;
static _Thread_local int inside_job;

static void work(void) {
    int chunk;
    inside_job = 1;
    while ((chunk = atomic_fetch_add_explicit(&next_chunk, 1, memory_order_acq_rel)) < current_chunks) {
        current_job(current_context, chunk);
        atomic_fetch_add_explicit(&finished_chunks, 1, memory_order_acq_rel);
    }
    inside_job = 0;
}

static void *worker(void *argument) {
    const int index = (int)(long)argument;  // workers 0 … thread_count − 2 take part; others stay idle
    int seen = atomic_load(&generation);
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            if (++spins < TP_SPIN_ROUNDS) { TP_PAUSE(); continue; }
            pthread_mutex_lock(&lock);
            atomic_fetch_add(&sleepers, 1);
            while (atomic_load(&generation) == seen) pthread_cond_wait(&wake, &lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&lock);
        }
        seen = atomic_load_explicit(&generation, memory_order_acquire);
        if (index < thread_count - 1) work();
    }
    return 0;
}

int tp_pool_set_threads(int threads) {
    pthread_mutex_lock(&run_lock);
    if (threads < 1) threads = 1;
    if (threads > TP_MAX_THREADS) threads = TP_MAX_THREADS;
    // Workers already running stay; a smaller count simply leaves some idle (they sleep after spinning).
    thread_count = threads;
    pthread_mutex_unlock(&run_lock);
    return thread_count;
}

static void start_workers(void) {
    while (workers_started < thread_count - 1) {
        pthread_t thread;
        if (pthread_create(&thread, 0, worker, (void *)(long)workers_started) != 0) break;
        pthread_detach(thread);
        workers_started++;
    }
}

void tp_pool_run(tp_job_fn job, void *context, int chunks) {
    if (chunks <= 0) return;
    if (inside_job || thread_count <= 1 || chunks == 1) {
        for (int i = 0; i < chunks; i++) job(context, i);
        return;
    }
    pthread_mutex_lock(&run_lock);
    start_workers();
    current_job = job;
    current_context = context;
    current_chunks = chunks;
    atomic_store(&finished_chunks, 0);
    atomic_store(&next_chunk, 0);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&lock);
    }
    work();
    while (atomic_load_explicit(&finished_chunks, memory_order_acquire) < chunks) TP_PAUSE();
    pthread_mutex_unlock(&run_lock);
}
