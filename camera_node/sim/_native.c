/* Native loops for the simulated camera's live-view frames (camera_node.sim.native).
 *
 * Each function does exactly the float32 arithmetic, in exactly the order, of the numpy code it
 * replaces, so a frame is bit for bit the same with or without this module (tests compare the two).
 * It is built with -ffp-contract=off: a fused multiply-add would round once where numpy rounds twice.
 * What it saves is numpy's passes over memory and its per-call cost, not arithmetic.
 *
 * On x86-64 each loop is also compiled for AVX2 and picked at load time (target_clones).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

#define MAX_LAYERS 64
#define MAX_BINS 65536

/* ---------------------------------------------------------------------------------------------
 * The layer sum of one grid: acc = sum_k spectrum_k * H(d_k) on the low-pass block of each layer.
 *
 * Layers come sharpest first (render.py's order). For each layer the disk's transfer function
 * is a table over the grid's radial bins, built as _Grid.otf builds it; a row of H is gathered
 * once for the rows of +fy and -fy that share it, and used for every plane. The first layer
 * writes acc (zero outside its block, up to column `width`), the others add onto their blocks,
 * each element in the order of the layers. A layer under the quantum is multiplied by 1, which
 * gives numpy's plain sum exactly.
 */

typedef struct {
    const float *spec; /* (P, H, W2) complex64 as float pairs */
    int unit;          /* blur under the quantum: H = 1 everywhere */
    int ky, kx;        /* block: rows 0 .. ky-1 of +fy (mirrored for -fy), columns 0 .. kx-1 */
    int neg;           /* rows of -fy in the block: min(ky - 1, neg_rows) */
    float table[];     /* H per radial bin (not used when unit) */
} layer_t;

static void build_table(float *table, int nbins, float scale, const float *centres, const float *lut,
                        int nlut, float x_cut, float inv_step)
{
    /* _Grid.otf: x = centres * float32(pi d); bins with x <= X_CUT take lut[int(x / step)]. */
    for (int b = 0; b < nbins; b++) {
        float x = centres[b] * scale;
        if (!(x <= x_cut)) {
            for (; b < nbins; b++) table[b] = 0.0f;
            break;
        }
        int32_t i = (int32_t)(x * inv_step);
        if (i > nlut - 1) i = nlut - 1;
        table[b] = lut[i];
    }
}

CLONES static void row_product(float *restrict a, const float *restrict s, const float *restrict hh, int n2)
{
    for (int c = 0; c < n2; c++) a[c] = s[c] * hh[c];
}

CLONES static void row_add_product(float *restrict a, const float *restrict s, const float *restrict hh, int n2)
{
    for (int c = 0; c < n2; c++) a[c] += s[c] * hh[c];
}

/* a += s1 * h1, then a += s2 * h2, element by element (numpy's order, one pass over a). */
CLONES static void row_add_products2(float *restrict a, const float *restrict s1, const float *restrict h1,
                                     const float *restrict s2, const float *restrict h2, int n2)
{
    for (int c = 0; c < n2; c++) {
        float v = a[c] + s1[c] * h1[c];
        a[c] = v + s2[c] * h2[c];
    }
}

/* The transfer function's row, each value twice (re, im); 1 for a layer under the quantum
 * (s * 1 is s exactly, so that is numpy's plain sum). */
static void gather_pairs(float *restrict hh, const layer_t *L, const uint16_t *restrict bins, int n)
{
    if (L->unit) {
        for (int c = 0; c < 2 * n; c++) hh[c] = 1.0f;
        return;
    }
    for (int c = 0; c < n; c++) {
        float h = L->table[bins[c]];
        hh[2 * c] = h;
        hh[2 * c + 1] = h;
    }
}

#define BLOCK_ROWS 32

/* Columns of layer L in row j of +fy, or in its mirrored row of -fy, clamped to 0 .. width. */
static int row_extent(const layer_t *L, int j, int mirrored, int rows, int width)
{
    int in = mirrored ? (rows - j >= rows - L->neg) : (j < L->ky);
    int m = in ? L->kx : 0;
    return m < 0 ? 0 : (m > width ? width : m);
}

#define GROUP 2 /* layers added per pass */

static void layer_sum(float *acc, layer_t *const *layers, int nl, const uint16_t *bins, int planes, int rows,
                      int cols, int width, int neg_rows, float *hh_rows)
{
    /* Rows go in blocks of BLOCK_ROWS rows of +fy with their mirrors. Over a block, the first
     * layer writes the sum, then the others add on two at a time (one pass over the block of
     * the sum per pair), so the block stays in cache and each spectrum is read once. (Pairs
     * measured 0.2 ms faster a `moto` frame than one layer a pass; fours no faster.) */
    size_t row_floats = (size_t)cols * 2, plane_floats = (size_t)rows * row_floats;
    size_t hh_floats = row_floats * BLOCK_ROWS;
    int pos_rows = rows / 2 + 1;
    for (int j0 = 0; j0 < pos_rows; j0 += BLOCK_ROWS) {
        int j1 = j0 + BLOCK_ROWS < pos_rows ? j0 + BLOCK_ROWS : pos_rows;
        for (int k = 0; k < nl;) {
            int g = k == 0 ? 1 : (nl - k < GROUP ? nl - k : GROUP);
            for (int q = 0; q < g; q++) {
                const layer_t *L = layers[k + q];
                for (int j = j0; j < j1; j++) {
                    int mirrored = j >= 1 && j <= neg_rows;
                    int n1 = row_extent(L, j, 0, rows, width);
                    int n2 = mirrored ? row_extent(L, j, 1, rows, width) : 0;
                    int n = n1 > n2 ? n1 : n2;
                    if (n > 0)
                        gather_pairs(hh_rows + q * hh_floats + (size_t)(j - j0) * row_floats, L,
                                     bins + (size_t)j * cols, n);
                }
            }
            for (int p = 0; p < planes; p++) {
                for (int side = 0; side < 2; side++) {
                    for (int j = j0; j < j1; j++) {
                        int mirrored = j >= 1 && j <= neg_rows;
                        if (side && !mirrored) continue;
                        int r = side ? rows - j : j;
                        size_t off = p * plane_floats + (size_t)r * row_floats, hoff = (size_t)(j - j0) * row_floats;
                        float *a = acc + off;
                        if (k == 0) {
                            int m = row_extent(layers[0], j, side, rows, width);
                            row_product(a, layers[0]->spec + off, hh_rows + hoff, 2 * m);
                            memset(a + 2 * m, 0, sizeof(float) * 2 * (size_t)(width - m));
                            continue;
                        }
                        const float *sp[GROUP], *hp[GROUP];
                        int ext[GROUP], m = width;
                        for (int q = 0; q < g; q++) {
                            sp[q] = layers[k + q]->spec + off;
                            hp[q] = hh_rows + q * hh_floats + hoff;
                            ext[q] = row_extent(layers[k + q], j, side, rows, width);
                            m = ext[q] < m ? ext[q] : m;
                        }
                        int done = 0;
                        if (g == 2) {
                            row_add_products2(a, sp[0], hp[0], sp[1], hp[1], 2 * m);
                            done = m;
                        }
                        /* What the pair did not cover, layer by layer in order. */
                        for (int q = 0; q < g; q++)
                            if (ext[q] > done)
                                row_add_product(a + 2 * done, sp[q] + 2 * done, hp[q] + 2 * done,
                                                2 * (ext[q] - done));
                    }
                }
            }
            k += g;
        }
    }
}

static int get_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t min_bytes, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    if (view->len < min_bytes) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected at least %zd", what, view->len, min_bytes);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *py_layer_sum(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *acc_obj, *spectra, *diameters, *extents, *bins_obj, *centres_obj, *lut_obj;
    int planes, rows, cols, width, neg_rows;
    double scale_per_px, x_cut, inv_step, quantum;
    if (!PyArg_ParseTuple(args, "OOOOOOO(iii)iidddd", &acc_obj, &spectra, &diameters, &extents, &bins_obj,
                          &centres_obj, &lut_obj, &planes, &rows, &cols, &width, &neg_rows, &scale_per_px,
                          &x_cut, &inv_step, &quantum))
        return NULL;
    Py_ssize_t nl = PySequence_Size(spectra);
    if (nl < 1 || nl > MAX_LAYERS || PySequence_Size(diameters) != nl || PySequence_Size(extents) != nl ||
        width < 0 || width > cols || planes < 1 || rows < 2 || cols < 1 || neg_rows < 0 ||
        neg_rows > (rows - 1) / 2) {
        PyErr_SetString(PyExc_ValueError, "layer_sum: inconsistent layer lists or grid");
        return NULL;
    }
    Py_ssize_t grid_bytes = (Py_ssize_t)planes * rows * cols * 8;
    Py_buffer acc, bins, centres, lut, specs[MAX_LAYERS];
    int nspec = 0, ok = 0;
    layer_t *layers[MAX_LAYERS] = {0};
    int have_acc = 0, have_bins = 0, have_centres = 0, have_lut = 0;
    if (get_buffer(acc_obj, &acc, 1, grid_bytes, "acc") < 0) goto done;
    have_acc = 1;
    if (get_buffer(bins_obj, &bins, 0, (Py_ssize_t)(rows / 2 + 1) * cols * 2, "bins") < 0) goto done;
    have_bins = 1;
    if (get_buffer(centres_obj, &centres, 0, 4, "centres") < 0) goto done;
    have_centres = 1;
    if (get_buffer(lut_obj, &lut, 0, 4, "lut") < 0) goto done;
    have_lut = 1;
    int nbins = (int)(centres.len / 4), nlut = (int)(lut.len / 4);
    if (nbins > MAX_BINS) {
        PyErr_SetString(PyExc_ValueError, "layer_sum: too many radial bins");
        goto done;
    }
    const uint16_t *bin_values = bins.buf;
    uint16_t top = 0;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)(rows / 2 + 1) * cols; i++)
        top = bin_values[i] > top ? bin_values[i] : top;
    if (top >= nbins) {
        PyErr_SetString(PyExc_ValueError, "layer_sum: a radial bin beyond the table");
        goto done;
    }
    for (Py_ssize_t k = 0; k < nl; k++) {
        PyObject *s = PySequence_GetItem(spectra, k);
        if (s == NULL) goto done;
        int rc = get_buffer(s, &specs[nspec], 0, grid_bytes, "spectrum");
        Py_DECREF(s);
        if (rc < 0) goto done;
        nspec++;
        PyObject *d_obj = PySequence_GetItem(diameters, k), *e_obj = PySequence_GetItem(extents, k);
        double d = d_obj ? PyFloat_AsDouble(d_obj) : -1.0;
        int ky = 0, kx = 0;
        int parsed = e_obj && PyArg_ParseTuple(e_obj, "ii", &ky, &kx);
        Py_XDECREF(d_obj);
        Py_XDECREF(e_obj);
        if (!parsed || PyErr_Occurred()) goto done;
        layers[k] = PyMem_Malloc(sizeof(layer_t) + sizeof(float) * (size_t)nbins);
        if (layers[k] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        layer_t *L = layers[k];
        L->spec = specs[nspec - 1].buf;
        L->unit = d < quantum;
        L->ky = ky; /* render.py gives a layer under the quantum the whole grid */
        L->kx = kx;
        int neg = L->ky - 1;
        L->neg = neg < neg_rows ? neg : neg_rows;
        if (!L->unit)
            build_table(L->table, nbins, (float)(scale_per_px * d), centres.buf, lut.buf, nlut, (float)x_cut,
                        (float)inv_step);
    }
    float *hh_rows = PyMem_RawMalloc(sizeof(float) * 2 * (size_t)cols * BLOCK_ROWS * GROUP);
    if (hh_rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    layer_sum(acc.buf, layers, (int)nl, bins.buf, planes, rows, cols, width, neg_rows, hh_rows);
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(hh_rows);
    ok = 1;
done:
    for (int k = 0; k < MAX_LAYERS; k++) PyMem_Free(layers[k]);
    for (int k = 0; k < nspec; k++) PyBuffer_Release(&specs[k]);
    if (have_acc) PyBuffer_Release(&acc);
    if (have_bins) PyBuffer_Release(&bins);
    if (have_centres) PyBuffer_Release(&centres);
    if (have_lut) PyBuffer_Release(&lut);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------
 * Exposure (stream.py): flicker gain, sensor noise and rounding to 8 bits, in one pass per plane.
 *
 * Luminance: out = u8(clip(y * gain + sigma * unit + 0.5, 0, 255)) with sigma = sqrt(read^2 +
 * shot * max(y, 0)), computed into `sigma` when `fresh` and read back from it otherwise (a
 * resting motor). Chroma: out = u8(clip(c * gain + sigma * unit + 128.5, 0, 255)). `unit` is a
 * window of a noise field at (oy, ox), or absent (no noise).
 */

CLONES static void luma_row(const float *restrict y, uint8_t *restrict out, float *restrict sigma,
                            const float *restrict unit, int w, int fresh, float gain, float shot, float read2)
{
    if (unit == NULL) {
        for (int c = 0; c < w; c++) {
            float b = y[c] * gain + 0.5f;
            b = b > 0.0f ? b : 0.0f;
            b = b < 255.0f ? b : 255.0f;
            out[c] = (uint8_t)b;
        }
        return;
    }
    if (fresh) {
        for (int c = 0; c < w; c++) {
            float v = y[c] > 0.0f ? y[c] : 0.0f;
            sigma[c] = sqrtf(v * shot + read2);
        }
    }
    for (int c = 0; c < w; c++) {
        float b = y[c] * gain;
        b = b + sigma[c] * unit[c];
        b = b + 0.5f;
        b = b > 0.0f ? b : 0.0f;
        b = b < 255.0f ? b : 255.0f;
        out[c] = (uint8_t)b;
    }
}

CLONES static void chroma_row(const float *restrict ch, uint8_t *restrict out, const float *restrict unit, int w,
                              float gain, float sigma)
{
    for (int c = 0; c < w; c++) {
        float b = ch[c] * gain;
        if (unit != NULL) b = b + unit[c] * sigma;
        b = b + 128.5f;
        b = b > 0.0f ? b : 0.0f;
        b = b < 255.0f ? b : 255.0f;
        out[c] = (uint8_t)b;
    }
}

/* A noise field's window of h x w at (oy, ox), or NULL for no noise. */
static int get_field(PyObject *obj, Py_buffer *view, int oy, int ox, int h, int w, const float **origin,
                     Py_ssize_t *stride)
{
    *origin = NULL;
    *stride = 0;
    if (obj == Py_None) return 0;
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_ND) < 0) return -1;
    if (view->ndim != 2 || view->itemsize != 4 || oy < 0 || ox < 0 || oy + h > view->shape[0] ||
        ox + w > view->shape[1]) {
        PyErr_SetString(PyExc_ValueError, "noise field too small for the frame");
        PyBuffer_Release(view);
        return -1;
    }
    *stride = view->shape[1];
    *origin = (const float *)view->buf + (size_t)oy * view->shape[1] + ox;
    return 1;
}

static int get_plane(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t itemsize, Py_ssize_t *h,
                     Py_ssize_t *w, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_ND | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->ndim != 2 || view->itemsize != itemsize || (*h >= 0 && (view->shape[0] < *h || view->shape[1] < *w))) {
        PyErr_Format(PyExc_ValueError, "%s: wrong shape or type", what);
        PyBuffer_Release(view);
        return -1;
    }
    if (*h < 0) {
        *h = view->shape[0];
        *w = view->shape[1];
    }
    return 0;
}

static PyObject *py_luma_8bit(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *y_obj, *out_obj, *sigma_obj, *field_obj;
    int fresh, oy, ox;
    double gain, shot, read2;
    if (!PyArg_ParseTuple(args, "OOOpOiiddd", &y_obj, &out_obj, &sigma_obj, &fresh, &field_obj, &oy, &ox, &gain,
                          &shot, &read2))
        return NULL;
    Py_buffer y, out, sigma, field;
    Py_ssize_t h = -1, w = -1;
    if (get_plane(y_obj, &y, 0, 4, &h, &w, "y") < 0) return NULL;
    if (get_plane(out_obj, &out, 1, 1, &h, &w, "out") < 0) goto fail_y;
    if (get_plane(sigma_obj, &sigma, 1, 4, &h, &w, "sigma") < 0) goto fail_out;
    const float *unit;
    Py_ssize_t ustride;
    int has_field = get_field(field_obj, &field, oy, ox, (int)h, (int)w, &unit, &ustride);
    if (has_field < 0) goto fail_sigma;
    Py_BEGIN_ALLOW_THREADS;
    Py_ssize_t ow = out.shape[1], sw = sigma.shape[1];
    for (Py_ssize_t r = 0; r < h; r++)
        luma_row((const float *)y.buf + r * w, (uint8_t *)out.buf + r * ow, (float *)sigma.buf + r * sw,
                 unit ? unit + r * ustride : NULL, (int)w, fresh, (float)gain, (float)shot, (float)read2);
    Py_END_ALLOW_THREADS;
    if (has_field) PyBuffer_Release(&field);
    PyBuffer_Release(&sigma);
    PyBuffer_Release(&out);
    PyBuffer_Release(&y);
    Py_RETURN_NONE;
fail_sigma:
    PyBuffer_Release(&sigma);
fail_out:
    PyBuffer_Release(&out);
fail_y:
    PyBuffer_Release(&y);
    return NULL;
}

static PyObject *py_chroma_8bit(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *c_obj, *out_obj, *field_obj;
    int oy, ox;
    double gain, sigma;
    if (!PyArg_ParseTuple(args, "OOOiidd", &c_obj, &out_obj, &field_obj, &oy, &ox, &gain, &sigma)) return NULL;
    Py_buffer c, out, field;
    Py_ssize_t h = -1, w = -1;
    if (get_plane(c_obj, &c, 0, 4, &h, &w, "chroma") < 0) return NULL;
    if (get_plane(out_obj, &out, 1, 1, &h, &w, "out") < 0) {
        PyBuffer_Release(&c);
        return NULL;
    }
    const float *unit;
    Py_ssize_t ustride;
    int has_field = get_field(field_obj, &field, oy, ox, (int)h, (int)w, &unit, &ustride);
    if (has_field < 0) {
        PyBuffer_Release(&out);
        PyBuffer_Release(&c);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS;
    Py_ssize_t ow = out.shape[1];
    for (Py_ssize_t r = 0; r < h; r++)
        chroma_row((const float *)c.buf + r * w, (uint8_t *)out.buf + r * ow, unit ? unit + r * ustride : NULL,
                   (int)w, (float)gain, (float)sigma);
    Py_END_ALLOW_THREADS;
    if (has_field) PyBuffer_Release(&field);
    PyBuffer_Release(&out);
    PyBuffer_Release(&c);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------
 * Occlusion normalisation (render.py): a frame's luminance and chroma divided by its blurred
 * layer weights. inv = 1 / max(w, 1e-3) at half resolution; chroma * inv; luminance * inv with
 * inv repeated 2x2 (an odd last row or column takes the last inv).
 * y: (H, Wy) with the frame at columns y_col .. y_col + W; half: (planes, h2, Wh) with the frame's
 * half at columns h_col .. h_col + w2, the weights last; chroma planes 0 and 1 unless grey.
 */

CLONES static void inverse_row(float *restrict inv, const float *restrict w, int n)
{
    const float floor = 1e-3f;
    for (int c = 0; c < n; c++) {
        float v = w[c] > floor ? w[c] : floor;
        inv[c] = 1.0f / v;
    }
}

CLONES static void scale_row(float *restrict out, const float *restrict a, const float *restrict inv, int n)
{
    for (int c = 0; c < n; c++) out[c] = a[c] * inv[c];
}

CLONES static void scale_row_2x(float *restrict out, const float *restrict y, const float *restrict inv, int w2,
                                int w)
{
    for (int c = 0; c < w2; c++) {
        out[2 * c] = y[2 * c] * inv[c];
        out[2 * c + 1] = y[2 * c + 1] * inv[c];
    }
    for (int c = 2 * w2; c < w; c++) out[c] = y[c] * inv[w2 - 1];
}

static PyObject *py_normalise(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *y_obj, *half_obj, *out_obj, *cb_obj, *cr_obj;
    int y_col, h_col, grey;
    if (!PyArg_ParseTuple(args, "OiOiOOOp", &y_obj, &y_col, &half_obj, &h_col, &out_obj, &cb_obj, &cr_obj, &grey))
        return NULL;
    Py_buffer y, half, out, cb, cr;
    int got = 0;
    PyObject *result = NULL;
    Py_ssize_t H = -1, W = -1, h2 = -1, w2 = -1, hy = -1, wy = -1;
    if (get_plane(out_obj, &out, 1, 4, &H, &W, "out") < 0) goto done;
    got = 1;
    if (get_plane(y_obj, &y, 0, 4, &hy, &wy, "y") < 0) goto done;
    got = 2;
    if (PyObject_GetBuffer(half_obj, &half, PyBUF_C_CONTIGUOUS | PyBUF_ND) < 0) goto done;
    got = 3;
    if (grey) { /* no chroma: cb and cr are None */
        h2 = H / 2;
        w2 = W / 2;
    } else {
        if (get_plane(cb_obj, &cb, 1, 4, &h2, &w2, "cb") < 0) goto done;
        got = 4;
        if (get_plane(cr_obj, &cr, 1, 4, &h2, &w2, "cr") < 0) goto done;
        got = 5;
    }
    int planes = grey ? 1 : 3;
    if (half.ndim != 3 || half.itemsize != 4 || half.shape[0] != planes || half.shape[1] < h2 ||
        half.shape[2] < h_col + w2 || hy < H || wy < y_col + W || y_col < 0 || h_col < 0 || h2 < 1 || w2 < 1 ||
        H < 2 * h2 || W < 2 * w2 || H > 2 * h2 + 1 || W > 2 * w2 + 1) {
        PyErr_SetString(PyExc_ValueError, "normalise: inconsistent shapes");
        goto done;
    }
    float *inv = PyMem_RawMalloc(sizeof(float) * (size_t)w2);
    if (inv == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    Py_ssize_t hs = half.shape[1] * half.shape[2];
    const float *hb = (const float *)half.buf + h_col;
    for (Py_ssize_t r = 0; r < h2; r++) {
        inverse_row(inv, hb + (planes - 1) * hs + r * half.shape[2], (int)w2);
        if (!grey) {
            scale_row((float *)cb.buf + r * w2, hb + r * half.shape[2], inv, (int)w2);
            scale_row((float *)cr.buf + r * w2, hb + hs + r * half.shape[2], inv, (int)w2);
        }
        Py_ssize_t last = (r == h2 - 1) ? H : 2 * r + 2;
        for (Py_ssize_t yr = 2 * r; yr < last; yr++)
            scale_row_2x((float *)out.buf + yr * W, (const float *)y.buf + yr * wy + y_col, inv, (int)w2, (int)W);
    }
    Py_END_ALLOW_THREADS;
    PyMem_RawFree(inv);
    result = Py_None;
    Py_INCREF(result);
done:
    if (got >= 5) PyBuffer_Release(&cr);
    if (got >= 4) PyBuffer_Release(&cb);
    if (got >= 3) PyBuffer_Release(&half);
    if (got >= 2) PyBuffer_Release(&y);
    if (got >= 1) PyBuffer_Release(&out);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * Near focus (nearfocus.py): the pixels a .. b-1 in order of in-focus position f (f sorted,
 * `split` the first with f >= p) take their own blur d = |f - p| * rate from the ladder, linearly
 * between rungs r and r+1 with rungs[r] <= d < rungs[r+1] (r = how many of `bounds` are <= d);
 * the pixels before a1 and from b1 on are in the fade, mixed with the layered value in `out`.
 */

static PyObject *py_near_apply(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *out_obj, *f_obj, *order_obj, *stack_obj, *gap_obj, *off_obj, *bounds_obj;
    Py_ssize_t a, a1, b1, b, split;
    double p_d, rate_d, reach_d, fade_d;
    if (!PyArg_ParseTuple(args, "OOOOOOOnnnnndddd", &out_obj, &f_obj, &order_obj, &stack_obj, &gap_obj, &off_obj,
                          &bounds_obj, &a, &a1, &b1, &b, &split, &p_d, &rate_d, &reach_d, &fade_d))
        return NULL;
    Py_buffer out, f, order, stack, gap, off, bounds;
    Py_buffer *views[7] = {&out, &f, &order, &stack, &gap, &off, &bounds};
    PyObject *objs[7] = {out_obj, f_obj, order_obj, stack_obj, gap_obj, off_obj, bounds_obj};
    int got = 0;
    PyObject *result = NULL;
    for (; got < 7; got++)
        if (PyObject_GetBuffer(objs[got], views[got],
                               PyBUF_C_CONTIGUOUS | PyBUF_ND | (got == 0 ? PyBUF_WRITABLE : 0)) < 0)
            goto done;
    Py_ssize_t n = f.len / 4, npix = out.len / 4, nb = bounds.len / 4;
    if (stack.ndim != 2 || stack.shape[1] != n || order.len / 8 != n || order.itemsize != 8 || f.itemsize != 4 ||
        out.itemsize != 4 || stack.itemsize != 4 || gap.len / 4 != nb + 1 || off.len / 4 != nb + 1 ||
        stack.shape[0] != nb + 2 ||
        !(0 <= a && a <= a1 && a1 <= b1 && b1 <= b && b <= n && a <= split && split <= b)) {
        PyErr_SetString(PyExc_ValueError, "near_apply: inconsistent arrays or ranges");
        goto done;
    }
    const int64_t *ord = order.buf;
    for (Py_ssize_t j = a; j < b; j++)
        if (ord[j] < 0 || ord[j] >= npix) {
            PyErr_SetString(PyExc_ValueError, "near_apply: pixel index outside the frame");
            goto done;
        }
    Py_BEGIN_ALLOW_THREADS;
    float *o = out.buf;
    const float *fs = f.buf, *st = stack.buf, *ig = gap.buf, *of = off.buf, *bd = bounds.buf;
    float p = (float)p_d, rate = (float)rate_d, reach = (float)reach_d, fade_scale = (float)fade_d;
    Py_ssize_t r = nb; /* d falls up to split and rises after: r only moves one way in each part */
    for (Py_ssize_t j = a; j < b; j++) {
        float d = fs[j] - p;
        d = fabsf(d);
        d = d * rate;
        if (j < split) {
            while (r > 0 && bd[r - 1] > d) r--;
        } else {
            if (j == split) r = 0;
            while (r < nb && bd[r] <= d) r++;
        }
        float lo = st[r * n + j], hi = st[(r + 1) * n + j];
        float t = d * ig[r];
        t = t - of[r];
        float v = hi - lo;
        v = v * t;
        v = v + lo;
        if (j < a1 || j >= b1) {
            float fade = reach - d;
            fade = fade * fade_scale;
            fade = fade > 0.0f ? fade : 0.0f;
            fade = fade < 1.0f ? fade : 1.0f;
            float layered = o[ord[j]];
            v = v - layered;
            v = v * fade;
            v = v + layered;
        }
        o[ord[j]] = v;
    }
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    while (got-- > 0) PyBuffer_Release(views[got]);
    return result;
}

static PyMethodDef methods[] = {
    {"layer_sum", py_layer_sum, METH_VARARGS,
     "layer_sum(acc, spectra, diameters, extents, bins, centres, lut, (planes, rows, cols), width, neg_rows, "
     "scale_per_px, x_cut, inv_step, quantum)"},
    {"luma_8bit", py_luma_8bit, METH_VARARGS,
     "luma_8bit(y, out, sigma, fresh, field_or_None, oy, ox, gain, shot, read2): exposed luminance, 8 bits"},
    {"chroma_8bit", py_chroma_8bit, METH_VARARGS,
     "chroma_8bit(c, out, field_or_None, oy, ox, gain, sigma): exposed chroma (centred on 0), 8 bits"},
    {"normalise", py_normalise, METH_VARARGS,
     "normalise(y, y_col, half, h_col, out, cb, cr, grey): luminance and chroma over their blurred weights"},
    {"near_apply", py_near_apply, METH_VARARGS,
     "near_apply(out, f_sorted, order, stack, inv_gap, offset, bounds, a, a1, b1, b, split, p, rate, reach, "
     "fade_scale): the near-focus pixels from the ladder"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "Native loops for the simulated camera's live-view frames (camera_node.sim.native).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
