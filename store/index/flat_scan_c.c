/*
 * A FLAT scan's distances in C: 1 - dot(row, query) (COSINE and IP), or the squared
 * Euclidean distance (L2), of every row of a row-major float32 matrix to each of several
 * queries, in one pass over the matrix.
 *
 * The reference is the numpy code of store/index/flat_scan.py (reference_dot_distances,
 * reference_l2_distances); this module computes the same bits
 * (tests/store/index/test_flat_scan.py holds them equal). Contract:
 *
 *   dot_distances(matrix, rows, dim, queries, count, out, threads[, isa, select]) -> None
 *   l2_distances(matrix, rows, dim, queries, count, out, threads[, isa, select]) -> None
 *
 *   matrix   a C-contiguous float32 buffer of at least rows * dim values (row i at i * dim)
 *   select   optional (None: absent): a C-contiguous int64 buffer of rows values, each a
 *            row number of matrix (0 <= select[i] < len(matrix) / dim; else ValueError):
 *            row i is then the matrix's row select[i], read where it lies (a filtered
 *            subset scanned without copying its rows out)
 *   queries  a C-contiguous float32 buffer of count * dim values
 *   out      a writable float32 buffer of count * rows values; out[q * rows + i] is
 *            1 - dot(row i, query q), or sum over j of (row i[j] - query q[j])^2
 *   threads  how many threads split the rows (1: the calling thread alone)
 *   isa      optional: -1 the widest kernels this CPU runs (the default), 0 baseline x86-64
 *            (SSE), 1 AVX2, 2 AVX-512F; ValueError when the CPU lacks it (tests run each)
 *
 * The order of additions, the same for every count, thread split and CPU: element j of a
 * row goes to lane j % 16; each lane adds its terms in order of j, starting from +0: the
 * product row[j] * query[j] rounded to float (dot), or the difference rounded to float and
 * squared, rounded (L2); the missing elements of a last partial group of 16 count as
 * +0 * +0 or (+0 - +0)^2. Then the lanes are folded in halves (lane i + lane i+8 for i < 8,
 * then i + i+4, i + i+2, and the two left: fold()), and the distance is 1 - that sum (dot)
 * or the sum (L2), in float. So a query's distances do not depend on how many queries share
 * the pass or on how many threads run it. The file is compiled with -ffp-contract=off: the
 * compiler fuses no multiply-add.
 *
 * One pass reads the matrix once for all the queries (each row's 16-float groups stay in
 * registers while every query of a tile multiplies them): at 100k x 384 on one core of the
 * 2-core AMD EPYC, 8 queries took 11.8 ms against 6.2 ms for one, and OpenBLAS's
 * column-major matrix-vector product 6.5 ms for one
 * (docs/decisions/0034-flat-scans-batched-in-one-pass.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float expressions must be evaluated in float (FLT_EVAL_METHOD 0)"
#endif

#pragma STDC FP_CONTRACT OFF

#define LANES 16
#define MAX_THREADS 8
#define PREFETCH_ROWS 4 /* rows ahead the next row's groups are asked for */
#define CHUNK_ROWS 256 /* rows a thread takes at a time (384-d: 384 KB, in its L2) */
#define SPIN_CHECKS 20000 /* ~0.1-0.2 ms of pause instructions */

typedef float v16 __attribute__((vector_size(LANES * sizeof(float))));

/* The 16 lanes' sum, folded in halves: lane i + lane i+8 (i < 8), then i + i+4 (i < 4),
   i + i+2, then the two left (a few vector steps instead of 16 additions in a row). */
static inline float fold(const v16 *v) {
    float h[8], q[4], p[2];
    for (int i = 0; i < 8; i++) {
        h[i] = (*v)[i] + (*v)[i + 8];
    }
    for (int i = 0; i < 4; i++) {
        q[i] = h[i] + h[i + 4];
    }
    for (int i = 0; i < 2; i++) {
        p[i] = q[i] + q[i + 2];
    }
    return p[0] + p[1];
}

/* The row PREFETCH_ROWS after row i (at ``row``) of a pass over rows [.., hi): the next
   ones of a selection lie anywhere. */
static inline const float *row_ahead(const float *matrix, Py_ssize_t dim,
                                     const int64_t *select, Py_ssize_t i, Py_ssize_t hi,
                                     const float *row) {
    if (select == NULL) {
        return row + PREFETCH_ROWS * dim;
    }
    return i + PREFETCH_ROWS < hi ? matrix + select[i + PREFETCH_ROWS] * dim : row;
}

/* Group j of the row (in x) against group j of each of the T queries, into acc: the
   products (DOT), or the squared differences (L2). */
#define DOT_GROUP(T)                                                                         \
    for (int q = 0; q < (T); q++) {                                                          \
        v16 y;                                                                               \
        memcpy(&y, queries + q * padded + j, sizeof y);                                      \
        acc[q] += x * y;                                                                     \
    }
#define L2_GROUP(T)                                                                          \
    for (int q = 0; q < (T); q++) {                                                          \
        v16 y;                                                                               \
        memcpy(&y, queries + q * padded + j, sizeof y);                                      \
        v16 d = x - y;                                                                       \
        acc[q] += d * d;                                                                     \
    }
/* A row's distance from its folded lanes. */
#define DOT_DISTANCE(sum) (1.0f - (sum))
#define L2_DISTANCE(sum) (sum)

/* Rows [lo, hi) against T queries (row-major, dim padded to groups of 16 with zeros,
   ``padded`` floats each), into out (``rows`` floats per query): GROUP adds a group's
   terms, DISTANCE makes the distance of the folded sum. A row's 16-float groups
   are read once for the T queries. A row's last partial group is copied into a
   zero-padded buffer first. (Several rows at a time, as independent chains, ran 2x
   slower: the matrix is then read in several streams.) */
#define TILE_FN(NAME, T, TARGET, GROUP, DISTANCE)                                            \
    TARGET static void NAME(const float *matrix, Py_ssize_t dim, Py_ssize_t padded,          \
                            const float *queries, Py_ssize_t lo, Py_ssize_t hi, float *out,  \
                            Py_ssize_t rows, const int64_t *select) {                        \
        Py_ssize_t whole = dim / LANES * LANES;                                              \
        for (Py_ssize_t i = lo; i < hi; i++) {                                               \
            const float *row = matrix + (select != NULL ? select[i] : i) * dim;              \
            const float *ahead = row_ahead(matrix, dim, select, i, hi, row);                 \
            v16 acc[T];                                                                      \
            for (int q = 0; q < T; q++) {                                                    \
                acc[q] = (v16){0};                                                           \
            }                                                                                \
            Py_ssize_t j = 0;                                                                \
            for (; j < whole; j += LANES) {                                                  \
                v16 x;                                                                       \
                __builtin_prefetch(ahead + j);                                               \
                memcpy(&x, row + j, sizeof x);                                               \
                GROUP(T);                                                                    \
            }                                                                                \
            if (j < dim) {                                                                   \
                float tail[LANES] = {0};                                                     \
                memcpy(tail, row + j, sizeof(float) * (size_t)(dim - j));                    \
                v16 x;                                                                       \
                memcpy(&x, tail, sizeof x);                                                  \
                GROUP(T);                                                                    \
            }                                                                                \
            for (int q = 0; q < T; q++) {                                                    \
                out[q * rows + i] = DISTANCE(fold(&acc[q]));                                 \
            }                                                                                \
        }                                                                                    \
    }

/* TILE_FN for AVX2, whose registers hold 8 floats: a group's lanes 0-7 and 8-15 kept as
   two 8-float vectors (lo, hi), each lane adding its terms in the same order, then folded
   as fold() folds them (lo + hi is its first step). With the 16-float type the compiler
   kept every accumulator on the stack and went through memory at each group (2x the
   baseline kernel's time at 100k x 384 on a Zen 3, docs/decisions/0046). */
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
#define DOT_GROUP8(T)                                                                        \
    for (int q = 0; q < (T); q++) {                                                          \
        v8 ylo, yhi;                                                                         \
        memcpy(&ylo, queries + q * padded + j, sizeof ylo);                                  \
        memcpy(&yhi, queries + q * padded + j + 8, sizeof yhi);                              \
        lo[q] += xlo * ylo;                                                                  \
        hi[q] += xhi * yhi;                                                                  \
    }
#define L2_GROUP8(T)                                                                         \
    for (int q = 0; q < (T); q++) {                                                          \
        v8 ylo, yhi;                                                                         \
        memcpy(&ylo, queries + q * padded + j, sizeof ylo);                                  \
        memcpy(&yhi, queries + q * padded + j + 8, sizeof yhi);                              \
        v8 dlo = xlo - ylo, dhi = xhi - yhi;                                                 \
        lo[q] += dlo * dlo;                                                                  \
        hi[q] += dhi * dhi;                                                                  \
    }
#define TILE_FN8(NAME, T, TARGET, GROUP, DISTANCE)                                           \
    TARGET static void NAME(const float *matrix, Py_ssize_t dim, Py_ssize_t padded,          \
                            const float *queries, Py_ssize_t lo_row, Py_ssize_t hi_row,      \
                            float *out, Py_ssize_t rows, const int64_t *select) {            \
        Py_ssize_t whole = dim / LANES * LANES;                                              \
        for (Py_ssize_t i = lo_row; i < hi_row; i++) {                                       \
            const float *row = matrix + (select != NULL ? select[i] : i) * dim;              \
            const float *ahead = row_ahead(matrix, dim, select, i, hi_row, row);             \
            v8 lo[T], hi[T];                                                                 \
            for (int q = 0; q < T; q++) {                                                    \
                lo[q] = (v8){0};                                                             \
                hi[q] = (v8){0};                                                             \
            }                                                                                \
            Py_ssize_t j = 0;                                                                \
            for (; j < whole; j += LANES) {                                                  \
                v8 xlo, xhi;                                                                 \
                __builtin_prefetch(ahead + j);                                               \
                memcpy(&xlo, row + j, sizeof xlo);                                           \
                memcpy(&xhi, row + j + 8, sizeof xhi);                                       \
                GROUP(T);                                                                    \
            }                                                                                \
            if (j < dim) {                                                                   \
                float tail[LANES] = {0};                                                     \
                memcpy(tail, row + j, sizeof(float) * (size_t)(dim - j));                    \
                v8 xlo, xhi;                                                                 \
                memcpy(&xlo, tail, sizeof xlo);                                              \
                memcpy(&xhi, tail + 8, sizeof xhi);                                          \
                GROUP(T);                                                                    \
            }                                                                                \
            for (int q = 0; q < T; q++) {                                                    \
                v8 h = lo[q] + hi[q];                                                        \
                float f[4], p[2];                                                            \
                for (int k = 0; k < 4; k++) {                                                \
                    f[k] = h[k] + h[k + 4];                                                  \
                }                                                                            \
                for (int k = 0; k < 2; k++) {                                                \
                    p[k] = f[k] + f[k + 2];                                                  \
                }                                                                            \
                out[q * rows + i] = DISTANCE(p[0] + p[1]);                                   \
            }                                                                                \
        }                                                                                    \
    }

/* One kernel per tile width, 1 to 8 queries: 8 fill the 32 AVX-512 registers, 4 the 16
   AVX (or SSE) ones; every width gives the same bits (the order above). */
#define TILE_SET_OF(FN, SUFFIX, TARGET, GROUP, DISTANCE)                                     \
    FN(w1##SUFFIX, 1, TARGET, GROUP, DISTANCE)                                               \
    FN(w2##SUFFIX, 2, TARGET, GROUP, DISTANCE)                                               \
    FN(w3##SUFFIX, 3, TARGET, GROUP, DISTANCE)                                               \
    FN(w4##SUFFIX, 4, TARGET, GROUP, DISTANCE)                                               \
    FN(w5##SUFFIX, 5, TARGET, GROUP, DISTANCE)                                               \
    FN(w6##SUFFIX, 6, TARGET, GROUP, DISTANCE)                                               \
    FN(w7##SUFFIX, 7, TARGET, GROUP, DISTANCE)                                               \
    FN(w8##SUFFIX, 8, TARGET, GROUP, DISTANCE)
#define TILE_SET(SUFFIX, TARGET, KIND)                                                       \
    TILE_SET_OF(TILE_FN, SUFFIX, TARGET, KIND##_GROUP, KIND##_DISTANCE)
#define TILES(SUFFIX)                                                                        \
    {w1##SUFFIX, w2##SUFFIX, w3##SUFFIX, w4##SUFFIX, w5##SUFFIX, w6##SUFFIX, w7##SUFFIX,     \
     w8##SUFFIX}

typedef void (*tile_fn)(const float *, Py_ssize_t, Py_ssize_t, const float *, Py_ssize_t,
                        Py_ssize_t, float *, Py_ssize_t, const int64_t *);

typedef struct {
    tile_fn tiles[8]; /* tiles[w - 1] takes w queries */
    int widest;
} kernels;

TILE_SET(_base_dot, , DOT)
TILE_SET(_base_l2, , L2)
#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_X86_TARGETS 1
#define TILE_SET8(SUFFIX, TARGET, KIND)                                                      \
    TILE_SET_OF(TILE_FN8, SUFFIX, TARGET, KIND##_GROUP8, KIND##_DISTANCE)
TILE_SET8(_avx2_dot, __attribute__((target("avx2"))), DOT)
TILE_SET8(_avx2_l2, __attribute__((target("avx2"))), L2)
TILE_SET(_avx512_dot, __attribute__((target("avx512f"))), DOT)
TILE_SET(_avx512_l2, __attribute__((target("avx512f"))), L2)
#endif

enum { ISA_BEST = -1, ISA_BASE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
enum { KIND_DOT = 0, KIND_L2 = 1 };

/* The kernels of ``kind`` for ``isa`` (ISA_BEST: the widest this CPU runs); 0 when the CPU
   lacks it. */
static int pick_kernels(int isa, int kind, kernels *out) {
#ifdef HAVE_X86_TARGETS
    int avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
    if (isa == ISA_BEST) {
        isa = avx512 ? ISA_AVX512 : avx2 ? ISA_AVX2 : ISA_BASE;
    }
    if (isa == ISA_AVX512 && avx512) {
        *out = kind == KIND_L2 ? (kernels){TILES(_avx512_l2), 8} : (kernels){TILES(_avx512_dot), 8};
        return 1;
    }
    if (isa == ISA_AVX2 && avx2) {
        *out = kind == KIND_L2 ? (kernels){TILES(_avx2_l2), 4} : (kernels){TILES(_avx2_dot), 4};
        return 1;
    }
#else
    if (isa == ISA_BEST) {
        isa = ISA_BASE;
    }
#endif
    if (isa == ISA_BASE) {
        *out = kind == KIND_L2 ? (kernels){TILES(_base_l2), 4} : (kernels){TILES(_base_dot), 4};
        return 1;
    }
    return 0;
}

typedef struct {
    const float *matrix;
    Py_ssize_t dim, padded, count, rows;
    const float *queries;
    float *out;
    const int64_t *select; /* NULL: row i is the matrix's row i */
    kernels k;
    Py_ssize_t next; /* the first row no thread has taken yet (atomic) */
} job;

/* Take CHUNK_ROWS rows at a time until none is left, and run every query against them,
   the widest tile the queries left fill at a time. Every thread of a pass runs this on the
   same job: a thread that starts late takes fewer chunks instead of finishing last. */
static void *run_job(void *arg) {
    job *b = arg;
    for (;;) {
        Py_ssize_t lo = __atomic_fetch_add(&b->next, CHUNK_ROWS, __ATOMIC_RELAXED);
        if (lo >= b->rows) {
            break;
        }
        Py_ssize_t hi = b->rows - lo < CHUNK_ROWS ? b->rows : lo + CHUNK_ROWS;
        for (Py_ssize_t q = 0; q < b->count;) {
            Py_ssize_t left = b->count - q;
            int width = left < b->k.widest ? (int)left : b->k.widest;
            b->k.tiles[width - 1](b->matrix, b->dim, b->padded, b->queries + q * b->padded, lo,
                                  hi, b->out + q * b->rows, b->rows, b->select);
            q += width;
        }
    }
    return NULL;
}

/* Helper threads, started once per process and parked between passes: a thread made for
   each pass started too late to share a 1 ms pass (20k x 384 took 1.06 ms on 2 threads made
   per pass, 0.98 on one). One pass at a time uses them (pool_owner, taken with trylock: a
   concurrent pass runs on its caller's thread alone). A fork's child starts without them
   (they are not copied): the atfork handler forgets them and resets the locks. */
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static int pool_helpers = 0;           /* helpers alive: they take jobs 1..pool_helpers */
static unsigned long pool_round = 0;   /* bumped for each pass handed to the helpers */
static job *pool_job = NULL;
static int pool_threads = 0;           /* threads of the current pass, caller included */
static int pool_pending = 0;           /* helpers of the current pass not done yet */
static int atfork_registered = 0;
static unsigned long helper_born[MAX_THREADS]; /* pool_round when each helper was made */

static void *helper_main(void *arg) {
    int index = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool_mutex);
    unsigned long seen = helper_born[index]; /* a pass handed out before it ran is its */
    for (;;) {
        while (pool_round == seen) {
            pthread_cond_wait(&pool_wake, &pool_mutex);
        }
        seen = pool_round;
        if (index < pool_threads) {
            job *mine = pool_job;
            pthread_mutex_unlock(&pool_mutex);
            run_job(mine);
            pthread_mutex_lock(&pool_mutex);
            if (__atomic_sub_fetch(&pool_pending, 1, __ATOMIC_RELEASE) == 0) {
                pthread_cond_signal(&pool_done);
            }
        }
    }
    return NULL;
}

static void forget_helpers_in_child(void) {
    pthread_mutex_init(&pool_owner, NULL);
    pthread_mutex_init(&pool_mutex, NULL);
    pthread_cond_init(&pool_wake, NULL);
    pthread_cond_init(&pool_done, NULL);
    pool_helpers = 0;
    pool_round = 0;
    pool_job = NULL;
    pool_threads = 0;
    pool_pending = 0;
}

/* Start helpers up to threads - 1 (the caller holds pool_owner); returns how many threads
   a pass can have now (fewer if a thread could not be started). */
static int start_helpers(int threads) {
    pthread_mutex_lock(&pool_mutex);
    if (!atfork_registered) {
        atfork_registered = pthread_atfork(NULL, NULL, forget_helpers_in_child) == 0;
    }
    while (pool_helpers < threads - 1) {
        pthread_t helper;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        helper_born[pool_helpers + 1] = pool_round;
        int failed = pthread_create(&helper, &attr, helper_main,
                                    (void *)(intptr_t)(pool_helpers + 1));
        pthread_attr_destroy(&attr);
        if (failed) {
            break;
        }
        pool_helpers++;
    }
    int can = pool_helpers + 1 < threads ? pool_helpers + 1 : threads;
    pthread_mutex_unlock(&pool_mutex);
    return can;
}

/* ``work`` on the caller and threads - 1 helpers; returns when all are done. */
static void run_on_helpers(job *work, int threads) {
    pthread_mutex_lock(&pool_mutex);
    pool_job = work;
    pool_threads = threads;
    pool_pending = threads - 1;
    pool_round++;
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_mutex);
    run_job(work);
    /* the helpers' shares end about when the caller's does: watch for that a while before
       sleeping (a sleep and a wake-up cost tens of microseconds against a 0.5 ms pass) */
    for (int spin = 0; spin < SPIN_CHECKS && __atomic_load_n(&pool_pending, __ATOMIC_ACQUIRE) > 0;
         spin++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&pool_mutex);
    while (__atomic_load_n(&pool_pending, __ATOMIC_ACQUIRE) > 0) {
        pthread_cond_wait(&pool_done, &pool_mutex);
    }
    pool_job = NULL;
    pool_threads = 0;
    pthread_mutex_unlock(&pool_mutex);
}

static int buffer_of(PyObject *obj, Py_buffer *view, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    if (view->itemsize != 4 || view->format == NULL || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous float32 buffer", what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* The distances of ``kind`` (the contract at the top), for the module's functions. */
static PyObject *scan(PyObject *args, int kind) {
    PyObject *matrix_obj, *queries_obj, *out_obj, *select_obj = Py_None;
    Py_ssize_t rows, dim, count;
    int threads, isa = ISA_BEST;
    if (!PyArg_ParseTuple(args, "OnnOnOi|iO", &matrix_obj, &rows, &dim, &queries_obj, &count,
                          &out_obj, &threads, &isa, &select_obj)) {
        return NULL;
    }
    kernels k;
    if (!pick_kernels(isa, kind, &k)) {
        PyErr_Format(PyExc_ValueError, "isa %d is not one this CPU runs", isa);
        return NULL;
    }
    if (rows < 0 || dim < 1 || count < 0 || threads < 1) {
        PyErr_SetString(PyExc_ValueError, "rows and count must be >= 0, dim and threads >= 1");
        return NULL;
    }
    Py_buffer matrix, queries, out;
    if (buffer_of(matrix_obj, &matrix, 0, "matrix") < 0) {
        return NULL;
    }
    if (buffer_of(queries_obj, &queries, 0, "queries") < 0) {
        PyBuffer_Release(&matrix);
        return NULL;
    }
    if (buffer_of(out_obj, &out, 1, "out") < 0) {
        PyBuffer_Release(&matrix);
        PyBuffer_Release(&queries);
        return NULL;
    }
    PyObject *result = NULL;
    float *padded_queries = NULL;
    Py_buffer select = {0};
    const int64_t *chosen = NULL;
    if (select_obj != Py_None) {
        if (PyObject_GetBuffer(select_obj, &select, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            goto done;
        }
        if (select.itemsize != 8 || select.format == NULL ||
            (strcmp(select.format, "q") != 0 && strcmp(select.format, "l") != 0) ||
            select.len / 8 != rows) {
            PyErr_SetString(PyExc_ValueError,
                            "select must be a C-contiguous int64 buffer of rows values");
            goto done;
        }
        chosen = select.buf;
        for (Py_ssize_t i = 0; i < rows; i++) {
            if (chosen[i] < 0 || chosen[i] >= matrix.len / 4 / dim) {
                PyErr_SetString(PyExc_ValueError, "select holds a row the matrix does not have");
                goto done;
            }
        }
    }
    if ((chosen == NULL && matrix.len / 4 / dim < rows) || queries.len / 4 != count * dim ||
        out.len / 4 != count * rows) {
        PyErr_SetString(PyExc_ValueError,
                        "buffer sizes do not match: matrix >= rows * dim, queries == count * "
                        "dim, out == count * rows float32 values");
        goto done;
    }
    Py_ssize_t padded = (dim + LANES - 1) / LANES * LANES;
    padded_queries = PyMem_Calloc((size_t)(count > 0 ? count : 1) * (size_t)padded, sizeof(float));
    if (padded_queries == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t q = 0; q < count; q++) {
        memcpy(padded_queries + q * padded, (const float *)queries.buf + q * dim,
               sizeof(float) * (size_t)dim);
    }
    if (threads > MAX_THREADS) {
        threads = MAX_THREADS;
    }
    if (threads > rows) {
        threads = rows > 0 ? (int)rows : 1;
    }
    job work = {(const float *)matrix.buf, dim, padded, count, rows,
                padded_queries, (float *)out.buf, chosen, k, 0};
    Py_BEGIN_ALLOW_THREADS;
    int using_pool = threads > 1 && pthread_mutex_trylock(&pool_owner) == 0;
    if (using_pool) {
        threads = start_helpers(threads);
    }
    if (using_pool && threads > 1) {
        run_on_helpers(&work, threads);
    } else {
        run_job(&work); /* alone, or another pass has the helpers */
    }
    if (using_pool) {
        pthread_mutex_unlock(&pool_owner);
    }
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(padded_queries);
    if (select.obj != NULL) {
        PyBuffer_Release(&select);
    }
    PyBuffer_Release(&matrix);
    PyBuffer_Release(&queries);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *dot_distances(PyObject *self, PyObject *args) {
    (void)self;
    return scan(args, KIND_DOT);
}

static PyObject *l2_distances(PyObject *self, PyObject *args) {
    (void)self;
    return scan(args, KIND_L2);
}

static PyMethodDef methods[] = {
    {"dot_distances", dot_distances, METH_VARARGS,
     "dot_distances(matrix, rows, dim, queries, count, out, threads[, isa, select]) -> None: "
     "out[q * rows + i] = 1 - dot(row i, query q), one pass for every query "
     "(see store/index/flat_scan.py)."},
    {"l2_distances", l2_distances, METH_VARARGS,
     "l2_distances(matrix, rows, dim, queries, count, out, threads[, isa, select]) -> None: "
     "out[q * rows + i] = the squared Euclidean distance of row i and query q, one pass "
     "for every query (see store/index/flat_scan.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "flat_scan_c",
    "A FLAT scan's distances (1 - dot, or squared L2) for several queries in one pass (the "
    "C twin of "
    "store/index/flat_scan.py).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_flat_scan_c(void) { return PyModule_Create(&module); }
