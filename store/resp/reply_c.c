/*
 * The common reply values of ReplyWriter (store/resp/writer.py) encoded in C.
 *
 *   encode_into(buf, value, resp3, fallback) -> None
 *
 * Appends value's RESP2 (resp3 false) or RESP3 frame to the bytearray buf, as the Python
 * _write(buf, value, resp3) does: exact bytes (bulk string), exact int within 64 bits
 * (integer), exact float (a double: format_double's digits, below), None (null), exact
 * list or tuple (array), exact dict (map, or a flat array in RESP2), each element in turn,
 * and a store.replies.SimpleString once register_simple_string(SimpleString) has run
 * (a simple string; one holding CR or LF, or not encodable as strict UTF-8, falls back).
 * Every other value (str, bool, big ints, the reply types of store.replies, subclasses) is
 * appended by calling fallback(buf, value, resp3),
 * the Python _write, in its place: so the bytes are the Python path's bytes by
 * construction, and tests/store/test_resp_writer_c.py holds the two equal.
 *
 * As the Python loops, a list is read by index until its current length, and a dict that
 * changes size, or whose keys change, while it is encoded raises RuntimeError (a frame
 * never holds more or fewer pairs than its header announced). Nesting deeper than Python's
 * recursion limit raises RecursionError. On an error buf may hold part of the reply: the
 * caller (ReplyWriter.write) cuts it back.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* Frames are assembled in a local buffer and moved to the bytearray in one step: before a
   fallback call (which appends to the bytearray itself) and at the end. */
typedef struct {
    PyObject *buf; /* the bytearray */
    char *data;
    size_t len, cap;
    char small[1024];
} Out;

/* Move what Out holds to the bytearray. 0, or -1 with the exception set. */
static int flush(Out *out) {
    if (out->len == 0) {
        return 0;
    }
    Py_ssize_t size = PyByteArray_GET_SIZE(out->buf);
    if (PyByteArray_Resize(out->buf, size + (Py_ssize_t)out->len) < 0) {
        return -1;
    }
    memcpy(PyByteArray_AS_STRING(out->buf) + size, out->data, out->len);
    out->len = 0;
    return 0;
}

static int append(Out *out, const char *data, size_t n) {
    if (out->len + n > out->cap) {
        if (flush(out) < 0) {
            return -1;
        }
        if (n > out->cap) { /* a large payload goes straight to the bytearray */
            Py_ssize_t size = PyByteArray_GET_SIZE(out->buf);
            if (PyByteArray_Resize(out->buf, size + (Py_ssize_t)n) < 0) {
                return -1;
            }
            memcpy(PyByteArray_AS_STRING(out->buf) + size, data, n);
            return 0;
        }
    }
    memcpy(out->data + out->len, data, n);
    out->len += n;
    return 0;
}

/* Append "<prefix><number>\r\n" (the digits as %lld writes them). */
static int header(Out *out, char prefix, long long number) {
    char line[24], *end = line + sizeof line, *at = end;
    unsigned long long magnitude = number < 0 ? 0ULL - (unsigned long long)number
                                              : (unsigned long long)number;
    *--at = '\n';
    *--at = '\r';
    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (number < 0) {
        *--at = '-';
    }
    *--at = prefix;
    return append(out, at, (size_t)(end - at));
}

static int encode(Out *out, PyObject *value, int resp3, PyObject *fallback);

/* store.replies.SimpleString, once registered (a strong reference, kept for good). */
static PyObject *simple_string_type = NULL;

/* store.numbers.format_double in C: value spelled as Redis 7.2+ spells doubles. "nan",
   "inf", "-inf", "0", "-0"; an integral value up to 2**62 in magnitude as a plain integer;
   else the shortest digits that read back to the same double (Python's repr, from
   PyOS_double_to_string), in plain form when the exponent is small, otherwise
   "<d>[.<digits>]e<sign><exp>". Writes at most 40 bytes to text. Returns the length, or
   -1 with the exception set. tests/store/test_resp_writer_c.py holds it equal to the
   Python function. */
#define LLONG_HALF 4611686018427387904.0 /* float(((1 << 63) - 1) // 2), i.e. 2**62 */
static Py_ssize_t format_double(double value, char *text) {
    if (isnan(value)) {
        memcpy(text, "nan", 3);
        return 3;
    }
    if (isinf(value)) {
        memcpy(text, value > 0 ? "inf" : "-inf", value > 0 ? 3 : 4);
        return value > 0 ? 3 : 4;
    }
    if (value == 0) {
        memcpy(text, signbit(value) ? "-0" : "0", signbit(value) ? 2 : 1);
        return signbit(value) ? 2 : 1;
    }
    if (value >= -LLONG_HALF && value <= LLONG_HALF && floor(value) == value) {
        return (Py_ssize_t)snprintf(text, 40, "%lld", (long long)value);
    }
    int neg = value < 0;
    char *r = PyOS_double_to_string(fabs(value), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL) {
        return -1;
    }
    /* repr: <int part>[.<fraction>][e<exponent>]; digits = (int part + fraction) without
       leading zeros, k = exponent - len(fraction): the value is digits * 10**k */
    char digits[32];
    Py_ssize_t nd = 0, flen = 0;
    long k = 0;
    int in_fraction = 0;
    for (const char *c = r; *c != '\0'; c++) {
        if (*c == 'e') {
            k = strtol(c + 1, NULL, 10);
            break;
        }
        if (*c == '.') {
            in_fraction = 1;
            continue;
        }
        if (in_fraction) {
            flen++;
        }
        if (nd == 0 && *c == '0') {
            continue;
        }
        if (nd == (Py_ssize_t)sizeof digits) { /* never: repr has at most 17 digits */
            PyMem_Free(r);
            PyErr_SetString(PyExc_ValueError, "too many digits in a double");
            return -1;
        }
        digits[nd++] = *c;
    }
    PyMem_Free(r);
    k -= (long)flen;
    while (nd > 0 && digits[nd - 1] == '0') { /* rstrip("0") */
        nd--;
        k++;
    }
    long e10 = k + (long)nd - 1, ex = e10 < 0 ? -e10 : e10;
    char *at = text;
    if (neg) {
        *at++ = '-';
    }
    if (k >= 0 && ex < (long)nd + 7) {
        memcpy(at, digits, (size_t)nd);
        at += nd;
        for (long i = 0; i < k; i++) {
            *at++ = '0';
        }
    } else if (k < 0 && (k > -7 || ex < 4)) {
        long offset = (long)nd + k;
        if (offset <= 0) {
            *at++ = '0';
            *at++ = '.';
            for (long i = 0; i < -offset; i++) {
                *at++ = '0';
            }
            memcpy(at, digits, (size_t)nd);
            at += nd;
        } else {
            memcpy(at, digits, (size_t)offset);
            at += offset;
            *at++ = '.';
            memcpy(at, digits + offset, (size_t)(nd - offset));
            at += nd - offset;
        }
    } else {
        *at++ = digits[0];
        if (nd > 1) {
            *at++ = '.';
            memcpy(at, digits + 1, (size_t)(nd - 1));
            at += nd - 1;
        }
        at += snprintf(at, 8, "e%c%ld", e10 < 0 ? '-' : '+', ex);
    }
    return at - text;
}

/* A double's frame: RESP3 ",<text>\r\n", RESP2 a bulk string of the text. */
static int encode_float(Out *out, double value, int resp3) {
    char text[48];
    Py_ssize_t n = format_double(value, text);
    if (n < 0) {
        return -1;
    }
    if (resp3) {
        if (append(out, ",", 1) < 0) {
            return -1;
        }
    } else if (header(out, '$', (long long)n) < 0) {
        return -1;
    }
    if (append(out, text, (size_t)n) < 0) {
        return -1;
    }
    return append(out, "\r\n", 2);
}

static int call_fallback(Out *out, PyObject *value, int resp3, PyObject *fallback) {
    if (flush(out) < 0) {
        return -1;
    }
    PyObject *done = PyObject_CallFunctionObjArgs(fallback, out->buf, value,
                                                  resp3 ? Py_True : Py_False, NULL);
    if (done == NULL) {
        return -1;
    }
    Py_DECREF(done);
    return 0;
}

static int encode_items(Out *out, PyObject *value, int resp3, PyObject *fallback) {
    /* a list is read as Python's list iterator reads it: by index, up to its length now */
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(value); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(value, i);
        Py_INCREF(item);
        int failed = encode(out, item, resp3, fallback) < 0;
        Py_DECREF(item);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

static int encode_dict(Out *out, PyObject *value, int resp3, PyObject *fallback) {
    Py_ssize_t size = PyDict_GET_SIZE(value), at = 0;
    if (header(out, resp3 ? '%' : '*', resp3 ? (long long)size : 2 * (long long)size) < 0) {
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t written = 0;
    while (PyDict_Next(value, &at, &k, &v)) {
        if (written == size) { /* a key went and another came: more pairs than announced */
            PyErr_SetString(PyExc_RuntimeError, "dictionary keys changed during iteration");
            return -1;
        }
        Py_INCREF(k);
        Py_INCREF(v);
        int failed = encode(out, k, resp3, fallback) < 0 || encode(out, v, resp3, fallback) < 0;
        Py_DECREF(k);
        Py_DECREF(v);
        if (failed) {
            return -1;
        }
        written++;
        if (PyDict_GET_SIZE(value) != size) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
    }
    if (written != size) { /* fewer pairs than announced: keys changed under a fallback */
        PyErr_SetString(PyExc_RuntimeError, "dictionary keys changed during iteration");
        return -1;
    }
    return 0;
}

/* A SimpleString: "+text\r\n" when its text is strict UTF-8 without CR or LF (what the
   Python _line leaves unchanged); anything else goes to the fallback, which replaces them. */
static int encode_simple(Out *out, PyObject *value, int resp3, PyObject *fallback) {
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(value, &n);
    if (text == NULL) {
        PyErr_Clear(); /* a lone surrogate: the fallback's surrogateescape spells it */
        return call_fallback(out, value, resp3, fallback);
    }
    if (memchr(text, '\r', (size_t)n) != NULL || memchr(text, '\n', (size_t)n) != NULL) {
        return call_fallback(out, value, resp3, fallback);
    }
    if (append(out, "+", 1) < 0 || append(out, text, (size_t)n) < 0) {
        return -1;
    }
    return append(out, "\r\n", 2);
}

static int encode(Out *out, PyObject *value, int resp3, PyObject *fallback) {
    if (PyBytes_CheckExact(value)) {
        Py_ssize_t n = PyBytes_GET_SIZE(value);
        if (header(out, '$', (long long)n) < 0 ||
            append(out, PyBytes_AS_STRING(value), (size_t)n) < 0) {
            return -1;
        }
        return append(out, "\r\n", 2);
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow != 0) {
            return call_fallback(out, value, resp3, fallback); /* a big number */
        }
        if (number == -1 && PyErr_Occurred()) {
            return -1;
        }
        return header(out, ':', number);
    }
    if (value == Py_None) {
        return resp3 ? append(out, "_\r\n", 3) : append(out, "$-1\r\n", 5);
    }
    if (PyFloat_CheckExact(value)) {
        return encode_float(out, PyFloat_AS_DOUBLE(value), resp3);
    }
    if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
        if (header(out, '*', (long long)PySequence_Fast_GET_SIZE(value)) < 0) {
            return -1;
        }
        if (Py_EnterRecursiveCall(" while encoding a reply")) {
            return -1;
        }
        int failed = encode_items(out, value, resp3, fallback);
        Py_LeaveRecursiveCall();
        return failed;
    }
    if (PyDict_CheckExact(value)) {
        if (Py_EnterRecursiveCall(" while encoding a reply")) {
            return -1;
        }
        int failed = encode_dict(out, value, resp3, fallback);
        Py_LeaveRecursiveCall();
        return failed;
    }
    if (simple_string_type != NULL && (PyObject *)Py_TYPE(value) == simple_string_type) {
        return encode_simple(out, value, resp3, fallback);
    }
    return call_fallback(out, value, resp3, fallback);
}

static PyObject *register_simple_string(PyObject *self, PyObject *cls) {
    (void)self;
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyUnicode_Type)) {
        PyErr_SetString(PyExc_TypeError, "register_simple_string takes a str subclass");
        return NULL;
    }
    Py_INCREF(cls);
    Py_XSETREF(simple_string_type, cls);
    Py_RETURN_NONE;
}

static PyObject *encode_into(PyObject *self, PyObject *args) {
    PyObject *buf, *value, *fallback;
    int resp3;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!OpO", &PyByteArray_Type, &buf, &value, &resp3, &fallback)) {
        return NULL;
    }
    Out out;
    out.buf = buf;
    out.data = out.small;
    out.len = 0;
    out.cap = sizeof out.small;
    if (encode(&out, value, resp3, fallback) < 0 || flush(&out) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"encode_into", encode_into, METH_VARARGS,
     "encode_into(buf, value, resp3, fallback) -> None: append value's RESP frame to buf "
     "(see store/resp/reply_c.c)."},
    {"register_simple_string", register_simple_string, METH_O,
     "register_simple_string(cls) -> None: encode values of exactly this str subclass "
     "(store.replies.SimpleString) as simple strings."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "reply_c",
    "ReplyWriter's common reply values encoded in C (the twin of writer._write).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_reply_c(void) { return PyModule_Create(&module); }
