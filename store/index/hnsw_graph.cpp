// hnswlib's graph over vectors the caller owns (decision 0042, part 2).
//
// hnswlib (header-only; its headers come from its sdist at build time, see setup.py) keeps
// a fixed-size "data" record per slot in its level-0 block and hands two records to the
// space's distance function. Here a record is a pointer to the FLOAT32 values of a Python
// ``bytes`` object plus the inverse of their norm, so the graph holds 16 bytes a vector
// instead of a copy: the values stay in the object the caller gives (a hash field's own
// blob), which the graph references for as long as a slot uses it. The walk reads an int8
// copy of each slot's values in a block of the graph's own (dim + 8 bytes, decision 0046)
// and measures the hits it keeps on the values themselves.
//
// Contract (what store.index.hnsw relies on):
// * Writes (add, mark/unmark, resize, relink, load) and searches are not concurrent: the
//   caller's read-write lock orders them. Searches may run concurrently with each other;
//   they release the GIL for the walk, and re-take it only to call a filter.
// * A Walker's thread walks a graph outside the caller's lock (never taking the GIL):
//   against it the graph has a lock of its own, which each walk holds shared and each
//   write exclusive (writer-preferring, so a write waits for at most the walk in
//   progress). A write that must wait for it releases the GIL meanwhile.
// * A slot's owner object is released only by a write that no longer needs its values
//   (the slot re-used by another vector, or the graph dropped), with the GIL held.
// * Distances: COSINE 1 - inv_a * inv_b * (a . b); IP 1 - (a . b); L2 the squared
//   Euclidean distance, on the values for what a search returns (the codes only steer the
//   walk). The caller recomputes reported distances (search_index.exact).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <pthread.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hnswlib/hnswlib.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace py = pybind11;

namespace {

struct Record {
    const float *values;
    float inv_norm;
    uint32_t unused;
};
static_assert(sizeof(Record) == 16, "a record is 16 bytes");

enum Metric { COSINE = 0, IP = 1, L2 = 2 };

struct SpaceParam {
    size_t dim;
    int metric;
};

// One loop per metric, inlined into the walk, no dispatch. setup.py builds with
// -march=native (as hnswlib builds itself). With AVX-512: two accumulators of 16 lanes (the
// FMAs of one chain wait on each other) and a tree reduction of the lanes at the end; the
// compiler's vectorisation of the plain loop kept one chain and added the 16 lanes one by
// one, ~18% more time a walk (decision 0045). Elsewhere the plain loops, which the
// reduction pragma (-fopenmp-simd) lets the compiler vectorise for the build CPU.
#if defined(__AVX512F__)
inline float dot(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

inline float l2(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#elif defined(__AVX2__) && defined(__FMA__)
// AVX2: four accumulators of 8 lanes (an FMA's latency is 4 cycles, two issue a cycle),
// then the lanes added in a tree; the plain loop's vectorisation kept one chain here too.
inline float sum_lanes(__m256 s) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

inline float dot(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = sum_lanes(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

inline float l2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = sum_lanes(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}
#else
inline float dot(const float *a, const float *b, size_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

inline float l2(const float *a, const float *b, size_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

#endif

float record_distance(const void *a, const void *b, const void *param) {
    const Record *x = static_cast<const Record *>(a);
    const Record *y = static_cast<const Record *>(b);
    const SpaceParam *p = static_cast<const SpaceParam *>(param);
    switch (p->metric) {
        case COSINE:
            return 1.0f - x->inv_norm * y->inv_norm * dot(x->values, y->values, p->dim);
        case IP:
            return 1.0f - dot(x->values, y->values, p->dim);
        default:
            return l2(x->values, y->values, p->dim);
    }
}

// The walk's codes (decision 0046): each slot's values as int8, x ~ scale * c, with
// c = round(x / scale), scale = max |x_i| / 127, in one block of the graph's own (the codes,
// then the factor and the squared norm the metric needs). A walk reads 392 bytes a 384-d
// vector there instead of its 1,536 in a Python object reached through its record; the
// hits it keeps are re-measured on the values (record_distance) before they are ordered.
// code_dot is sum q_i * c_i for a float query (the query is not quantized).
#if defined(__AVX512F__)
inline float code_dot(const float *q, const int8_t *c, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 c0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(c + i))));
        __m512 c1 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(c + i + 16))));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), c0, s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), c1, s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; i++) s += q[i] * (float)c[i];
    return s;
}
#elif defined(__AVX2__) && defined(__FMA__)
inline float code_dot(const float *q, const int8_t *c, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m128i b0 = _mm_loadu_si128((const __m128i *)(c + i));
        __m128i b1 = _mm_loadu_si128((const __m128i *)(c + i + 16));
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b0));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b0, 8)));
        __m256 c2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b1));
        __m256 c3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b1, 8)));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), c0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), c1, s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16), c2, s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), c3, s3);
    }
    float s = sum_lanes(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += q[i] * (float)c[i];
    return s;
}
#else
inline float code_dot(const float *q, const int8_t *c, size_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += q[i] * (float)c[i];
    return s;
}
#endif

// A slot's codes block: dim int8 codes, then (at the 4-aligned offset after them) the
// factor of code_dot (COSINE: inv_norm * scale; IP, L2: scale) and the squared norm (L2).
struct CodeTail {
    float factor;
    float sq_norm;
};

class RecordSpace : public hnswlib::SpaceInterface<float> {
   public:
    SpaceParam param;
    RecordSpace(size_t dim, int metric) {
        param.dim = dim;
        param.metric = metric;
    }
    size_t get_data_size() override { return sizeof(Record); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return record_distance; }
    void *get_dist_func_param() override { return &param; }
};

int parse_metric(const std::string &name) {
    if (name == "COSINE") return COSINE;
    if (name == "IP") return IP;
    if (name == "L2") return L2;
    throw std::invalid_argument("metric must be COSINE, IP or L2, got " + name);
}

// Lines of a vector prefetched ahead of its distance (0042: 8 of a 384-d vector's 24 matched
// hnswlib's own walk; the hardware prefetcher streams the rest).
constexpr int PREFETCH_LINES = 8;

// A filter's exception, taken with PyErr_Fetch, restored once the walk is over.
struct Failure {
    PyObject *type = nullptr;
    PyObject *value = nullptr;
    PyObject *traceback = nullptr;
};

using hnswlib::labeltype;
using hnswlib::tableint;
typedef hnswlib::HierarchicalNSW<float> Hnsw;
typedef std::vector<std::pair<labeltype, float>> Hits;

// The graph's own reader-writer lock (see the contract above): glibc's rwlock, set to
// prefer a waiting writer over new readers, so a stream of walks never starves a write.
class WalkLock {
   public:
    WalkLock() {
        pthread_rwlockattr_t attr;
        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&lock_, &attr);
        pthread_rwlockattr_destroy(&attr);
    }
    ~WalkLock() { pthread_rwlock_destroy(&lock_); }
    WalkLock(const WalkLock &) = delete;
    WalkLock &operator=(const WalkLock &) = delete;
    void lock_shared() { pthread_rwlock_rdlock(&lock_); }
    void unlock() { pthread_rwlock_unlock(&lock_); }
    // Exclusive, called with the GIL held: released while waiting (a walk never needs it,
    // but another thread may, to finish what it does before this write).
    void lock_exclusive() {
        if (pthread_rwlock_trywrlock(&lock_) == 0) return;
        py::gil_scoped_release unlocked;
        pthread_rwlock_wrlock(&lock_);
    }

   private:
    pthread_rwlock_t lock_;
};

// Holds a graph's WalkLock exclusive for a write's scope.
class Writing {
   public:
    explicit Writing(WalkLock &lock) : lock_(lock) { lock_.lock_exclusive(); }
    ~Writing() { lock_.unlock(); }
    Writing(const Writing &) = delete;
    Writing &operator=(const Writing &) = delete;

   private:
    WalkLock &lock_;
};

class Graph {
   public:
    Graph(size_t dim, const std::string &metric, size_t max_elements, size_t m,
          size_t ef_construction, size_t seed)
        : dim_(dim),
          space_(dim, parse_metric(metric)),
          tail_at_((dim + 3) / 4 * 4),
          stride_(tail_at_ + sizeof(CodeTail)) {
        if (dim == 0) throw std::invalid_argument("dim must be at least 1");
        alg_.reset(new Hnsw(&space_, std::max<size_t>(max_elements, 1), m, ef_construction, seed,
                            true));
        owners_.assign(alg_->max_elements_, nullptr);
        reserve_codes(alg_->max_elements_);
    }

    ~Graph() {
        release_all();
        std::free(codes_);
    }

    size_t dim() const { return dim_; }
    int metric() const { return space_.param.metric; }
    size_t element_count() const { return alg_->cur_element_count; }
    size_t max_elements() const { return alg_->max_elements_; }
    size_t code_bytes() const { return stride_; }  // a slot's codes block

    void resize(size_t max_elements) {
        Writing writing(walk_lock_);
        if (max_elements < alg_->cur_element_count)
            throw std::invalid_argument("cannot shrink below the slots in use");
        alg_->resizeIndex(max_elements);
        owners_.resize(max_elements, nullptr);
        reserve_codes(max_elements);
    }

    // Add or update ``labels[i]`` with ``values[i]`` (each a bytes object of dim float32
    // values), on ``threads`` threads; ``replace_deleted``: a new label may take a deleted
    // slot (hnswlib's replace_deleted).
    void add(const std::vector<labeltype> &labels, py::list values, int threads,
             bool replace_deleted) {
        size_t n = labels.size();
        if ((size_t)py::len(values) != n)
            throw std::invalid_argument("labels and values differ in length");
        std::vector<Record> records(n);
        std::vector<PyObject *> objects(n);
        for (size_t i = 0; i < n; i++) {
            PyObject *obj = values[i].ptr();
            records[i] = record_of(obj);
            objects[i] = obj;
        }
        std::string failure;
        Writing writing(walk_lock_);
        {
            py::gil_scoped_release unlocked;
            std::atomic<size_t> next(0);
            std::mutex failed;
            auto work = [&]() {
                size_t i;
                while ((i = next++) < n) {
                    try {
                        alg_->addPoint(&records[i], labels[i], replace_deleted);
                    } catch (const std::exception &e) {
                        std::lock_guard<std::mutex> g(failed);
                        if (failure.empty()) failure = e.what();
                    }
                }
            };
            int t = std::max(1, std::min<int>(threads, (int)n));
            if (t == 1) {
                work();
            } else {
                std::vector<std::thread> pool;
                for (int j = 0; j < t; j++) pool.emplace_back(work);
                for (auto &th : pool) th.join();
            }
        }
        // every slot whose record now points into one of the new objects takes it
        for (size_t i = 0; i < n; i++) {
            auto found = alg_->label_lookup_.find(labels[i]);
            if (found == alg_->label_lookup_.end()) continue;
            tableint slot = found->second;
            const Record *stored = record_at(slot);
            encode(slot);  // from the values it holds now (a later duplicate's, if one won)
            if (stored->values != records[i].values) continue;  // a later duplicate won
            own(slot, objects[i]);
        }
        if (!failure.empty()) throw std::runtime_error(failure);
    }

    void mark_deleted(labeltype label) {
        Writing writing(walk_lock_);
        alg_->markDelete(label);
    }
    void unmark_deleted(labeltype label) {
        Writing writing(walk_lock_);
        alg_->unmarkDelete(label);
    }

    bool is_deleted(labeltype label) const {
        auto found = alg_->label_lookup_.find(label);
        if (found == alg_->label_lookup_.end()) throw std::out_of_range("label not found");
        return alg_->isMarkedDeleted(found->second);
    }

    std::vector<labeltype> ids() const {
        std::vector<labeltype> out;
        out.reserve(alg_->label_lookup_.size());
        for (auto &kv : alg_->label_lookup_) out.push_back(kv.first);
        return out;
    }

    // The object holding ``label``'s values (its slot's owner): no copy.
    py::object vector(labeltype label) const {
        auto found = alg_->label_lookup_.find(label);
        if (found == alg_->label_lookup_.end()) throw std::out_of_range("label not found");
        PyObject *obj = owners_[found->second];
        if (obj == nullptr) throw std::runtime_error("slot has no values");
        return py::reinterpret_borrow<py::object>(obj);
    }

    // Point ``label``'s slot at ``values`` (a bytes object equal to what it holds), so the
    // graph references the caller's object instead of its own: False (nothing changed) if
    // the label is unknown or the bytes differ.
    bool relink(labeltype label, py::bytes values) {
        auto found = alg_->label_lookup_.find(label);
        if (found == alg_->label_lookup_.end()) return false;
        tableint slot = found->second;
        PyObject *now = owners_[slot];
        PyObject *obj = values.ptr();
        if (now == obj) return true;
        if (now == nullptr || PyBytes_GET_SIZE(now) != PyBytes_GET_SIZE(obj) ||
            std::memcmp(PyBytes_AS_STRING(now), PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj)))
            return false;
        Writing writing(walk_lock_);
        Record *stored = record_at(slot);
        stored->values = reinterpret_cast<const float *>(PyBytes_AS_STRING(obj));
        own(slot, obj);
        return true;
    }

    // The ``k`` nearest live labels to ``query`` (bytes of dim float32), nearest first, as
    // (label, distance); ``allowed``: None or a callable taking a label, called with the
    // GIL, that admits it. A walk at breadth ``ef`` (at least k).
    std::vector<std::pair<labeltype, float>> search(py::bytes query, size_t k, size_t ef,
                                                    py::object allowed) {
        Record q = record_of(query.ptr());
        std::vector<std::pair<labeltype, float>> out;
        if (k == 0 || alg_->cur_element_count == 0) return out;
        PyObject *filter = allowed.is_none() ? nullptr : allowed.ptr();
        Failure failure;
        {
            py::gil_scoped_release unlocked;
            walk(q, k, std::max(ef, k), filter, out, failure);
        }
        if (failure.type != nullptr) {
            PyErr_Restore(failure.type, failure.value, failure.traceback);
            throw py::error_already_set();
        }
        return out;
    }

    // The distance the walk uses from ``query`` (bytes of dim float32) to ``label``'s slot,
    // from its codes block: record_distance's up to the codes' rounding (what holds the
    // codes in step with the values, in the tests).
    float code_distance_to(labeltype label, py::bytes query) const {
        Record q = record_of(query.ptr());
        auto found = alg_->label_lookup_.find(label);
        if (found == alg_->label_lookup_.end()) throw std::out_of_range("label not found");
        float q_sq = space_.param.metric == L2 ? dot(q.values, q.values, dim_) : 0.0f;
        return code_distance(q, q_sq, found->second);
    }

    // The record of a query (bytes of dim float32 values) for walk_shared.
    Record query_record(PyObject *query) const { return record_of(query); }

    // A walk without a filter, from a thread that does not hold the GIL (a Walker's): under
    // the graph's own lock, shared, so no write runs meanwhile.
    void walk_shared(const Record &q, size_t k, size_t ef, Hits &out) {
        out.clear();
        walk_lock_.lock_shared();
        if (k > 0 && alg_->cur_element_count > 0) {
            Failure unused;
            walk(q, k, std::max(ef, k), nullptr, out, unused);
        }
        walk_lock_.unlock();
    }

    // Bytes of the values objects only the graph references (a deleted document's, a copy
    // made for a vector that was not a bytes object's view), with their headers.
    size_t owned_bytes() const {
        size_t total = 0;
        for (size_t slot = 0; slot < alg_->cur_element_count; slot++) {
            PyObject *obj = owners_[slot];
            if (obj != nullptr && Py_REFCNT(obj) == 1) total += Py_SIZE(obj) + sizeof(PyBytesObject);
        }
        return total;
    }

    void save(const std::string &path) const { alg_->saveIndex(path); }

    // The values of every slot, in slot order (what load needs besides the graph file).
    py::list slot_values() const {
        py::list out;
        for (size_t slot = 0; slot < alg_->cur_element_count; slot++) {
            PyObject *obj = owners_[slot];
            if (obj == nullptr) throw std::runtime_error("slot has no values");
            out.append(py::reinterpret_borrow<py::object>(obj));
        }
        return out;
    }

    // Read a graph written by save, with ``values``: one bytes object per slot, as
    // slot_values gave them.
    void load(const std::string &path, py::list values, size_t max_elements) {
        Writing writing(walk_lock_);
        release_all();
        alg_.reset(new Hnsw(&space_, path, false, max_elements, true));
        reserve_codes(alg_->max_elements_);
        size_t n = alg_->cur_element_count;
        if ((size_t)py::len(values) != n)
            throw std::invalid_argument("values do not match the graph's slots");
        owners_.assign(alg_->max_elements_, nullptr);
        for (size_t slot = 0; slot < n; slot++) {
            PyObject *obj = values[slot].ptr();
            Record r = record_of(obj);
            Record *stored = record_at(slot);
            stored->values = r.values;
            stored->inv_norm = r.inv_norm;
            own(slot, obj);
            encode(slot);
        }
    }

   private:
    size_t dim_;
    RecordSpace space_;
    std::unique_ptr<Hnsw> alg_;
    std::vector<PyObject *> owners_;  // per slot, a strong reference (GIL held to change)
    WalkLock walk_lock_;               // against a Walker's walks (see the contract)
    size_t tail_at_;                   // a codes block's CodeTail offset
    size_t stride_;                    // bytes a slot's codes block takes
    char *codes_ = nullptr;            // per slot a codes block (the walk's, see code_dot)
    size_t codes_slots_ = 0;           // slots codes_ has room for

    // Room for ``slots`` codes blocks (malloc'd, not touched: the pages of slots never used
    // cost no memory); the blocks in use are kept.
    void reserve_codes(size_t slots) {
        if (slots <= codes_slots_) return;
        char *grown = static_cast<char *>(std::realloc(codes_, slots * stride_));
        if (grown == nullptr) throw std::bad_alloc();
        codes_ = grown;
        codes_slots_ = slots;
    }

    const char *codes_of(tableint slot) const { return codes_ + (size_t)slot * stride_; }

    // Write ``slot``'s codes block from the values its record points at.
    void encode(tableint slot) {
        const Record *r = record_at(slot);
        char *block = codes_ + (size_t)slot * stride_;
        int8_t *codes = reinterpret_cast<int8_t *>(block);
        float top = 0;
        double sq = 0;
        for (size_t i = 0; i < dim_; i++) {
            top = std::max(top, std::fabs(r->values[i]));
            sq += (double)r->values[i] * r->values[i];
        }
        float scale = top / 127.0f;
        float inverse = scale > 0 && std::isfinite(scale) ? 1.0f / scale : 0.0f;
        for (size_t i = 0; i < dim_; i++) {
            float c = std::nearbyint(r->values[i] * inverse);
            codes[i] = (int8_t)(c > 127.0f ? 127 : (c < -127.0f ? -127 : (c == c ? c : 0)));
        }
        CodeTail *tail = reinterpret_cast<CodeTail *>(block + tail_at_);
        tail->factor = space_.param.metric == COSINE ? r->inv_norm * scale : scale;
        tail->sq_norm = (float)sq;
    }

    // The walk's distance from query ``q`` (``q_sq``: its squared norm, for L2) to ``slot``,
    // from the slot's codes: what record_distance gives, up to the codes' rounding.
    float code_distance(const Record &q, float q_sq, tableint slot) const {
        const char *block = codes_of(slot);
        float d = code_dot(q.values, reinterpret_cast<const int8_t *>(block), dim_);
        const CodeTail *tail = reinterpret_cast<const CodeTail *>(block + tail_at_);
        switch (space_.param.metric) {
            case COSINE:
                return 1.0f - q.inv_norm * tail->factor * d;
            case IP:
                return 1.0f - tail->factor * d;
            default:
                return q_sq + tail->sq_norm - 2.0f * tail->factor * d;
        }
    }

    Record *record_at(tableint slot) const {
        return reinterpret_cast<Record *>(alg_->getDataByInternalId(slot));
    }

    Record record_of(PyObject *obj) const {
        if (!PyBytes_Check(obj)) throw py::type_error("values must be bytes");
        if ((size_t)PyBytes_GET_SIZE(obj) != dim_ * sizeof(float))
            throw std::invalid_argument("values must hold dim float32 values");
        Record r;
        r.values = reinterpret_cast<const float *>(PyBytes_AS_STRING(obj));
        double s = 0;
        for (size_t i = 0; i < dim_; i++) s += (double)r.values[i] * r.values[i];
        r.inv_norm = (float)(1.0 / (std::sqrt(s) + 1e-30));
        r.unused = 0;
        return r;
    }

    void own(tableint slot, PyObject *obj) {
        Py_INCREF(obj);
        PyObject *old = owners_[slot];
        owners_[slot] = obj;
        Py_XDECREF(old);
    }

    void release_all() {
        for (auto &obj : owners_) {
            Py_XDECREF(obj);
            obj = nullptr;
        }
    }

    // Whether the filter admits ``label`` (the GIL taken for the call). After the filter
    // raised once, nothing more is admitted and the first exception is kept in ``failure``.
    bool admits(PyObject *filter, labeltype label, Failure &failure) const {
        if (filter == nullptr) return true;
        py::gil_scoped_acquire locked;
        if (failure.type != nullptr) return false;
        PyObject *arg = PyLong_FromUnsignedLongLong(label);
        PyObject *res = arg ? PyObject_CallOneArg(filter, arg) : nullptr;
        Py_XDECREF(arg);
        int ok = res ? PyObject_IsTrue(res) : -1;
        Py_XDECREF(res);
        if (ok < 0) {
            PyErr_Fetch(&failure.type, &failure.value, &failure.traceback);
            return false;
        }
        return ok == 1;
    }

    // hnswlib's search (greedy descent, then the base layer at breadth ef) on the slots'
    // codes (code_distance), the base layer's neighbours' codes blocks prefetched a node at
    // a time (0042, 0046); then the ef hits kept are measured on their values
    // (record_distance) and the k nearest by that returned.
    void walk(const Record &q, size_t k, size_t ef, PyObject *filter,
              std::vector<std::pair<labeltype, float>> &out, Failure &failure) const {
        Hnsw *a = alg_.get();
        const void *param = &space_.param;
        const int metric = space_.param.metric;
        const float q_sq = metric == L2 ? dot(q.values, q.values, dim_) : 0.0f;
        const size_t code_lines = (stride_ + 63) / 64;
        tableint cur = a->enterpoint_node_;
        float cur_d = code_distance(q, q_sq, cur);
        for (int level = a->maxlevel_; level > 0; level--) {
            bool changed = true;
            while (changed) {
                changed = false;
                unsigned int *data = (unsigned int *)a->get_linklist(cur, level);
                int size = a->getListCount(data);
                tableint *links = (tableint *)(data + 1);
                for (int i = 0; i < size; i++) {
                    float d = code_distance(q, q_sq, links[i]);
                    if (d < cur_d) {
                        cur_d = d;
                        cur = links[i];
                        changed = true;
                    }
                }
            }
        }
        bool bare = filter == nullptr && a->num_deleted_ == 0;
        hnswlib::VisitedList *vl = a->visited_list_pool_->getFreeVisitedList();
        hnswlib::vl_type *visited = vl->mass;
        hnswlib::vl_type tag = vl->curV;
        typedef std::pair<float, tableint> P;
        std::priority_queue<P> top;                                     // farthest first
        std::priority_queue<P, std::vector<P>, std::greater<P>> cands;  // nearest first
        float bound;
        if (bare || (!a->isMarkedDeleted(cur) && admits(filter, a->getExternalLabel(cur), failure))) {
            top.emplace(cur_d, cur);
            bound = cur_d;
        } else {
            bound = std::numeric_limits<float>::max();
        }
        cands.emplace(cur_d, cur);
        visited[cur] = tag;
        std::vector<tableint> fresh;
        while (!cands.empty()) {
            P c = cands.top();
            if (c.first > bound && (bare || top.size() == ef)) break;
            cands.pop();
            int *data = (int *)a->get_linklist0(c.second);
            size_t size = a->getListCount((hnswlib::linklistsizeint *)data);
            fresh.clear();
            for (size_t j = 1; j <= size; j++) {
                tableint id = data[j];
                if (visited[id] == tag) continue;
                visited[id] = tag;
                fresh.push_back(id);
                const char *block = codes_of(id);
                for (size_t line = 0; line < code_lines; line++)
                    __builtin_prefetch(block + 64 * line, 0, 3);
            }
            for (tableint id : fresh) {
                float d = code_distance(q, q_sq, id);
                if (top.size() < ef || d < bound) {
                    cands.emplace(d, id);
                    if (bare || (!a->isMarkedDeleted(id) &&
                                 admits(filter, a->getExternalLabel(id), failure)))
                        top.emplace(d, id);
                    if (top.size() > ef) top.pop();
                    if (!top.empty()) bound = top.top().first;
                }
            }
        }
        a->visited_list_pool_->releaseVisitedList(vl);
        // the hits kept, measured on their values (records, then values, prefetched first)
        std::vector<tableint> &kept = fresh;
        kept.clear();
        for (; !top.empty(); top.pop()) {
            kept.push_back(top.top().second);
            __builtin_prefetch(a->getDataByInternalId(top.top().second), 0, 3);
        }
        for (tableint id : kept) {
            const char *values = (const char *)record_at(id)->values;
            for (int line = 0; line < PREFETCH_LINES; line++)
                __builtin_prefetch(values + 64 * line, 0, 3);
        }
        out.clear();
        for (tableint id : kept)
            out.push_back({a->getExternalLabel(id), record_distance(&q, record_at(id), param)});
        // nearest first, equal distances by label (as hnswlib's searchKnn orders them)
        std::sort(out.begin(), out.end(), [](const std::pair<labeltype, float> &x,
                                             const std::pair<labeltype, float> &y) {
            return x.second < y.second || (x.second == y.second && x.first < y.first);
        });
        if (out.size() > k) out.resize(k);
    }
};

// Threads that walk graphs for the event loop (docs/decisions/0044): submit() queues a
// walk and returns at once; a thread walks it without the GIL, under the graph's own lock;
// each finished walk is kept with its token, and the eventfd ``fd`` becomes readable when
// the first of a batch is; take() (GIL held) hands them over in the order they finished,
// each with the CPU time the walk took on its thread.
// Walks start in the order submitted (with one thread they finish in it too). A job holds
// references to its graph, query and token (taken and dropped with the GIL), so none is
// freed while it waits.
class Walker {
   public:
    explicit Walker(int threads) {
        if (threads < 1) throw std::invalid_argument("a walker needs at least 1 thread");
        fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
        for (int i = 0; i < threads; i++) {
            threads_.emplace_back([this] { run(); });
            // as top -H and /proc show it (set here, so it is set when this returns)
            pthread_setname_np(threads_.back().native_handle(), "memvec-walker");
        }
    }

    ~Walker() {
        stop();
        for (Job *job : done_) drop(job);  // the GIL is held: pybind11 deallocates with it
        ::close(fd_);
    }

    int fd() const { return fd_; }

    // Queue a walk of ``graph`` for the k nearest to ``query`` (bytes of its dim float32
    // values) at breadth max(ef, k); take() gives back ``token`` with the hits.
    void submit(py::object graph, py::bytes query, size_t k, size_t ef, py::object token) {
        Graph *target = graph.cast<Graph *>();
        Record record = target->query_record(query.ptr());  // raises for a wrong size
        Job *job = new Job;
        job->record = record;
        job->graph = target;
        job->k = k;
        job->ef = ef;
        job->owner = graph.release().ptr();
        job->query = query.release().ptr();
        job->token = token.release().ptr();
        {
            std::lock_guard<std::mutex> g(mu_);
            if (stopping_) {
                drop(job);
                throw std::runtime_error("the walker is closed");
            }
            queue_.push_back(job);
        }
        cv_.notify_one();
    }

    // The finished walks, in the order they finished: a list of
    // (token, [(label, distance), ...], nanoseconds of CPU the walk took).
    py::list take() {
        uint64_t count;
        ssize_t r = ::read(fd_, &count, sizeof count);  // re-armed before the batch is taken
        (void)r;
        std::vector<Job *> finished;
        {
            std::lock_guard<std::mutex> g(mu_);
            finished.swap(done_);
        }
        py::list out;
        for (Job *job : finished) {
            py::list hits;
            for (auto &hit : job->hits) hits.append(py::make_tuple(hit.first, hit.second));
            out.append(py::make_tuple(py::reinterpret_borrow<py::object>(job->token), hits,
                                      job->walk_ns));
            drop(job);
        }
        return out;
    }

    // Walks queued or running, and finished ones not taken.
    size_t pending() {
        std::lock_guard<std::mutex> g(mu_);
        return queue_.size() + done_.size() + busy_;
    }

    // Take no more walks; the queued ones are walked first (take() still gives them).
    void stop() {
        {
            std::lock_guard<std::mutex> g(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        py::gil_scoped_release unlocked;
        for (auto &thread : threads_)
            if (thread.joinable()) thread.join();
    }

   private:
    struct Job {
        Graph *graph;
        PyObject *owner;  // the graph's Python object
        PyObject *query;
        PyObject *token;
        Record record;
        size_t k, ef;
        Hits hits;
        uint64_t walk_ns;
    };

    int fd_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job *> queue_;
    std::vector<Job *> done_;
    bool stopping_ = false;
    size_t busy_ = 0;  // walks in progress
    std::vector<std::thread> threads_;

    // This thread's CPU time: what a walk cost, not the time it waited for a core.
    static uint64_t thread_cpu_ns() {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
    }

    static void drop(Job *job) {
        Py_XDECREF(job->owner);
        Py_XDECREF(job->query);
        Py_XDECREF(job->token);
        delete job;
    }

    void run() {
        for (;;) {
            Job *job;
            {
                std::unique_lock<std::mutex> g(mu_);
                cv_.wait(g, [this] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping, and every queued walk done
                job = queue_.front();
                queue_.pop_front();
                busy_++;
            }
            uint64_t started = thread_cpu_ns();
            job->graph->walk_shared(job->record, job->k, job->ef, job->hits);
            job->walk_ns = thread_cpu_ns() - started;
            bool first;
            {
                std::lock_guard<std::mutex> g(mu_);
                busy_--;
                first = done_.empty();
                done_.push_back(job);
            }
            if (first) {
                uint64_t one = 1;
                ssize_t w = ::write(fd_, &one, sizeof one);
                (void)w;
            }
        }
    }
};

// -- A kept plan's ids page, from the request's bytes (decision 0045) ------------------------
//
// The planned path of store.commands.search for ``FT.SEARCH idx "*=>[KNN k @v $B ...]"
// PARAMS 2 B <blob> NOCONTENT`` (store.commands.plan_bytes holds the contract and the
// Python reference), without building the request's arguments, the hits' tuples or the
// reply's objects: the walk, the hits' order (sorted_hits' rule), the live keys of the
// page, and the reply's bytes.

typedef std::pair<labeltype, float> Hit;

// Sorted by (distance, label), as store.index.vecsim_arith.sorted_hits orders them; false
// when a distance is NaN (Python's sort then depends on the input order).
bool sort_hits(Hits &hits) {
    for (auto &h : hits)
        if (std::isnan(h.second)) return false;
    std::sort(hits.begin(), hits.end(), [](const Hit &x, const Hit &y) {
        if (x.second != y.second) return x.second < y.second;
        return x.first < y.first;
    });
    return true;
}

// vecsim_arith.order_is_certain of sorted distances (the same arithmetic, in double).
bool order_certain(const Hits &hits, int metric, size_t dim) {
    if (metric == IP) return false;
    double bound = 4.0 * ((double)dim + 4.0) * std::ldexp(1.0, -24);
    for (size_t i = 1; i < hits.size(); i++) {
        double a = hits[i - 1].second, b = hits[i].second;
        double scale = metric == COSINE ? 1.0 : std::max(std::fabs(a), std::fabs(b));
        if (!(b - a > bound * scale)) return false;
    }
    return true;
}

void append_int(std::string &out, char tag, long long n) {
    out += tag;
    out += std::to_string(n);
    out += "\r\n";
}

// Acquires a Python lock object (the engine's RLock) for a scope.
class Holding {
   public:
    explicit Holding(PyObject *lock) : lock_(lock) {
        PyObject *r = PyObject_CallMethod(lock_, "acquire", nullptr);
        if (r == nullptr) throw py::error_already_set();
        Py_DECREF(r);
    }
    ~Holding() {  // released whatever went wrong meanwhile; never throws
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *r = PyObject_CallMethod(lock_, "release", nullptr);
        if (r == nullptr)
            PyErr_WriteUnraisable(lock_);
        else
            Py_DECREF(r);
        PyErr_Restore(type, value, tb);
    }
    Holding(const Holding &) = delete;
    Holding &operator=(const Holding &) = delete;

   private:
    PyObject *lock_;
};

// Where an ids page is read from and how it is written (the arguments of the functions
// below, from Python): the index's labels' keys, the keyspace's values and deadlines read
// at ``now_ms`` under ``lock``; the window [offset, offset + num); RESP3 or RESP2.
struct PageSource {
    PyObject *to_key, *data, *expires, *field_expires;
    long long now_ms;
    PyObject *lock;
    size_t offset, num;
    bool resp3;
};

PageSource page_source(py::dict to_key, py::dict data, py::dict expires, py::dict field_expires,
                       long long now_ms, py::object lock, size_t offset, size_t num,
                       bool resp3) {
    return PageSource{to_key.ptr(), data.ptr(), expires.ptr(), field_expires.ptr(), now_ms,
                      lock.ptr(),   offset,     num,          resp3};
}

void append_bulk(std::string &out, PyObject *bytes) {
    append_int(out, '$', (long long)PyBytes_GET_SIZE(bytes));
    out.append(PyBytes_AS_STRING(bytes), (size_t)PyBytes_GET_SIZE(bytes));
    out += "\r\n";
}

// The reply of an ids page for ``hits`` (nearest first) of the labels whose key exists,
// holds a dict, and has not expired: RESP2 ``[total, key...]``, RESP3 FT.SEARCH's map
// (attributes, total_results, format, results of {id, values}, warning), the window of
// them. None when store.commands.search must decide: a key with field deadlines, or a
// value that is not a dict (a JSON document, another type).
py::object ids_page_of(const Hits &hits, const PageSource &src) {
    std::vector<PyObject *> keys;  // borrowed from to_key, which the lock keeps unchanged
    keys.reserve(hits.size());
    Holding held(src.lock);
    bool any_expires = PyDict_GET_SIZE(src.expires) > 0;
    bool any_field_expires = PyDict_GET_SIZE(src.field_expires) > 0;
    for (const Hit &h : hits) {
        PyObject *label = PyLong_FromUnsignedLongLong(h.first);
        if (label == nullptr) throw py::error_already_set();
        PyObject *key = PyDict_GetItemWithError(src.to_key, label);
        Py_DECREF(label);
        if (key == nullptr) {
            if (PyErr_Occurred()) throw py::error_already_set();
            continue;  // no longer indexed
        }
        PyObject *value = PyDict_GetItemWithError(src.data, key);
        if (value == nullptr) {
            if (PyErr_Occurred()) throw py::error_already_set();
            continue;  // gone since the walk
        }
        if (any_field_expires) {
            int has = PyDict_Contains(src.field_expires, key);
            if (has < 0) throw py::error_already_set();
            if (has) return py::none();
        }
        if (any_expires) {
            PyObject *deadline = PyDict_GetItemWithError(src.expires, key);
            if (deadline == nullptr && PyErr_Occurred()) throw py::error_already_set();
            if (deadline != nullptr) {
                long long at = PyLong_AsLongLong(deadline);
                if (at == -1 && PyErr_Occurred()) throw py::error_already_set();
                if (at <= src.now_ms) continue;  // expired: hidden
            }
        }
        if (!PyDict_Check(value) || !PyBytes_Check(key)) return py::none();
        keys.push_back(key);
    }
    // the keys are read while the lock holds them in to_key; the reply copies them
    std::string out;
    size_t total = keys.size();
    size_t first = std::min(src.offset, total);
    size_t last = first + std::min(src.num, total - first);
    out.reserve(128 + (last - first) * 64);
    if (src.resp3) {
        out += "%5\r\n+attributes\r\n*0\r\n+total_results\r\n";
        append_int(out, ':', (long long)total);
        out += "+format\r\n+STRING\r\n+results\r\n";
        append_int(out, '*', (long long)(last - first));
        for (size_t i = first; i < last; i++) {
            out += "%2\r\n+id\r\n";
            append_bulk(out, keys[i]);
            out += "+values\r\n*0\r\n";
        }
        out += "+warning\r\n*0\r\n";
    } else {
        append_int(out, '*', (long long)(1 + last - first));
        append_int(out, ':', (long long)total);
        for (size_t i = first; i < last; i++) append_bulk(out, keys[i]);
    }
    return py::bytes(out);
}

// The ids page of a walk's ``hits``, sorted here: None for a NaN distance; the sorted hits as
// a list of (label, distance) when their order is not certain; else ids_page_of.
py::object ordered_ids_page(Hits &hits, int metric, size_t dim, const PageSource &src) {
    if (!sort_hits(hits)) return py::none();
    if (!order_certain(hits, metric, dim)) {
        py::list pairs;
        for (const Hit &h : hits) pairs.append(py::make_tuple(h.first, h.second));
        return std::move(pairs);
    }
    return ids_page_of(hits, src);
}

Hits hits_of(py::list pairs) {
    Hits hits;
    hits.reserve(py::len(pairs));
    for (auto item : pairs) hits.push_back(item.cast<Hit>());
    return hits;
}

// kept_ids_page: walk ``graph`` for the ``dim`` float32 values at ``request[at:]`` (its
// FLOAT32 blob), ``want`` nearest at breadth ``ef`` (under the graph's own lock, the GIL
// released), and answer the ids page of them (ids_page_of). Returns the reply's bytes; or
// the hits, sorted, as a list of (label, distance) when their order is not certain (the
// caller recomputes the reported distances, then calls ids_page); or None when the planned
// path must answer: values that are not finite, fewer hits than ``want``, a NaN distance,
// or what ids_page_of leaves to it (ordered_ids_page).
py::object kept_ids_page(Graph &graph, py::bytes request, size_t at, size_t want, size_t ef,
                         size_t offset, size_t num, bool resp3, py::dict to_key, py::dict data,
                         py::dict expires, py::dict field_expires, long long now_ms,
                         py::object lock) {
    size_t dim = graph.dim();
    size_t size = (size_t)PyBytes_GET_SIZE(request.ptr());
    if (want == 0 || at > size || size - at < dim * sizeof(float)) return py::none();
    std::vector<float> values(dim);
    std::memcpy(values.data(), PyBytes_AS_STRING(request.ptr()) + at, dim * sizeof(float));
    double s = 0;
    for (size_t i = 0; i < dim; i++) {
        if (!std::isfinite(values[i])) return py::none();
        s += (double)values[i] * values[i];
    }
    Record q;
    q.values = values.data();
    q.inv_norm = (float)(1.0 / (std::sqrt(s) + 1e-30));
    q.unused = 0;
    Hits hits;
    {
        py::gil_scoped_release unlocked;
        graph.walk_shared(q, want, ef, hits);
    }
    if (hits.size() != want) return py::none();
    return ordered_ids_page(
        hits, graph.metric(), dim,
        page_source(to_key, data, expires, field_expires, now_ms, lock, offset, num, resp3));
}

// walked_ids_page: kept_ids_page for the hits of a walk made elsewhere (a Walker's, for
// ``want`` hits of ``graph``): ``pairs`` as Walker.take gives them.
py::object walked_ids_page(Graph &graph, py::list pairs, size_t want, size_t offset, size_t num,
                           bool resp3, py::dict to_key, py::dict data, py::dict expires,
                           py::dict field_expires, long long now_ms, py::object lock) {
    Hits hits = hits_of(pairs);
    if (hits.size() != want) return py::none();
    return ordered_ids_page(
        hits, graph.metric(), graph.dim(),
        page_source(to_key, data, expires, field_expires, now_ms, lock, offset, num, resp3));
}

// ids_page_of for ``pairs`` (label, distance) in the order given.
py::object ids_page(py::list pairs, size_t offset, size_t num, bool resp3, py::dict to_key,
                    py::dict data, py::dict expires, py::dict field_expires, long long now_ms,
                    py::object lock) {
    Hits hits = hits_of(pairs);
    return ids_page_of(
        hits, page_source(to_key, data, expires, field_expires, now_ms, lock, offset, num, resp3));
}

}  // namespace

PYBIND11_MODULE(hnsw_graph, m) {
    m.doc() = "hnswlib's graph over float32 values held in caller-owned bytes objects";
    py::class_<Graph>(m, "Graph")
        .def(py::init<size_t, const std::string &, size_t, size_t, size_t, size_t>(),
             py::arg("dim"), py::arg("metric"), py::arg("max_elements"), py::arg("m"),
             py::arg("ef_construction"), py::arg("seed"))
        .def_property_readonly("dim", &Graph::dim)
        .def_property_readonly("metric", &Graph::metric)
        .def_property_readonly("element_count", &Graph::element_count)
        .def_property_readonly("max_elements", &Graph::max_elements)
        .def_property_readonly("code_bytes", &Graph::code_bytes)
        .def("resize", &Graph::resize)
        .def("add", &Graph::add, py::arg("labels"), py::arg("values"), py::arg("threads") = 1,
             py::arg("replace_deleted") = false)
        .def("mark_deleted", &Graph::mark_deleted)
        .def("unmark_deleted", &Graph::unmark_deleted)
        .def("is_deleted", &Graph::is_deleted)
        .def("ids", &Graph::ids)
        .def("vector", &Graph::vector)
        .def("relink", &Graph::relink)
        .def("search", &Graph::search, py::arg("query"), py::arg("k"), py::arg("ef"),
             py::arg("allowed") = py::none())
        .def("owned_bytes", &Graph::owned_bytes)
        .def("code_distance", &Graph::code_distance_to, py::arg("label"), py::arg("query"))
        .def("save", &Graph::save)
        .def("slot_values", &Graph::slot_values)
        .def("load", &Graph::load);
    py::class_<Walker>(m, "Walker")
        .def(py::init<int>(), py::arg("threads") = 1)
        .def_property_readonly("fd", &Walker::fd)
        .def("submit", &Walker::submit, py::arg("graph"), py::arg("query"), py::arg("k"),
             py::arg("ef"), py::arg("token"))
        .def("take", &Walker::take)
        .def("pending", &Walker::pending)
        .def("stop", &Walker::stop);
    m.def("kept_ids_page", &kept_ids_page, py::arg("graph"), py::arg("request"), py::arg("at"),
          py::arg("want"), py::arg("ef"), py::arg("offset"), py::arg("num"), py::arg("resp3"),
          py::arg("to_key"), py::arg("data"), py::arg("expires"), py::arg("field_expires"),
          py::arg("now_ms"), py::arg("lock"));
    m.def("walked_ids_page", &walked_ids_page, py::arg("graph"), py::arg("pairs"),
          py::arg("want"), py::arg("offset"), py::arg("num"), py::arg("resp3"),
          py::arg("to_key"), py::arg("data"), py::arg("expires"), py::arg("field_expires"),
          py::arg("now_ms"), py::arg("lock"));
    m.def("ids_page", &ids_page, py::arg("pairs"), py::arg("offset"), py::arg("num"),
          py::arg("resp3"), py::arg("to_key"), py::arg("data"), py::arg("expires"),
          py::arg("field_expires"), py::arg("now_ms"), py::arg("lock"));
}
