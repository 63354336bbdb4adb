/* A loaded model: hyper-parameters and weight views bound from GGUF metadata, the tokenizer,
 * and the forward pass (architectures llama, qwen2, qwen3, phi3, gemma2, gemma3: RMSNorm,
 * RoPE, grouped-query attention over a paged KV cache, gated FFN, tied or separate output).
 * Weights stay a read-only mmap. A model is immutable after load and may be shared by several
 * contexts; a context belongs to one thread at a time. */
#ifndef HR_MODEL_H
#define HR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"
#include "../gguf/gguf.h"
#include "../kernels/kernels.h"
#include "../template/chat.h"
#include "../tokenizer/tok.h"

struct hr_weight {
    const void *data; /* view into the mapping */
    uint32_t type;    /* enum hr_dtype */
    uint64_t n_rows;  /* ne[1] (output features); 1 for vectors */
    uint64_t n_cols;  /* ne[0] (input features) */
    uint64_t row_bytes;
    void *packed;     /* the kernel set's layout of a matrix, made on first use, or NULL */
};

enum hr_arch {
    HR_ARCH_LLAMA,
    HR_ARCH_QWEN2, /* q/k/v biases, NeoX RoPE */
    HR_ARCH_QWEN3, /* per-head q/k RMSNorm, NeoX RoPE */
    HR_ARCH_PHI3,  /* fused qkv and gate|up projections, NeoX RoPE */
    HR_ARCH_GEMMA2, /* scaled embeddings, post-norms, GELU, soft-capping, sliding window */
    HR_ARCH_GEMMA3, /* gemma2 without attention soft-capping, plus per-head q/k RMSNorm; local
                       (windowed) and global layers with their own RoPE base and scale */
};

struct hr_layer {
    struct hr_weight attn_norm; /* [n_embd] F32 */
    struct hr_weight wqkv;      /* phi3: [n_embd] -> [q | k | v]; else unused */
    struct hr_weight bq, bk, bv; /* qwen2 biases [q dim], [kv dim]; data NULL when absent */
    struct hr_weight q_norm, k_norm; /* qwen3, gemma3 [head_dim]; data NULL when absent */
    struct hr_weight wq;        /* [n_embd] -> [n_head * head_dim] */
    struct hr_weight wk;        /* [n_embd] -> [n_head_kv * head_dim] */
    struct hr_weight wv;        /* [n_embd] -> [n_head_kv * head_dim] */
    struct hr_weight wo;        /* [n_head * head_dim] -> [n_embd] */
    struct hr_weight ffn_norm;  /* [n_embd] F32 */
    struct hr_weight w_gate;    /* [n_embd] -> [n_ff]; phi3: absent, w_up gives gate|up */
    struct hr_weight w_up;      /* [n_embd] -> [n_ff] */
    struct hr_weight w_down;    /* [n_ff] -> [n_embd] */
    struct hr_weight post_attn_norm, post_ffn_norm; /* gemma2/3 [n_embd]; else data NULL */
    bool is_swa; /* sliding-window layer: sees the last sliding_window positions only, and
                    rotates with rope_theta_swa / rope_scale_swa */
};

/* How an embedding is pooled from the sequence's final hidden states: llama.cpp's enum
 * llama_pooling_type, whose values `<arch>.pooling_type` stores. */
enum hr_pooling {
    HR_POOLING_UNSPECIFIED = -1, /* in requests only: use the model's */
    HR_POOLING_NONE = 0,         /* per-token states, no pooled vector (not served) */
    HR_POOLING_MEAN = 1,
    HR_POOLING_CLS = 2,          /* the first token */
    HR_POOLING_LAST = 3,         /* the last token */
    HR_POOLING_RANK = 4,         /* reranker classification head (not supported) */
};

struct hr_model {
    /* public, read-only after load */
    char arch[32];
    enum hr_arch arch_id;
    bool rope_neox;           /* rotate pairs (i, i + n_rot/2) instead of (2i, 2i+1) */
    char name[128];           /* general.name or the file's base name */
    char path[4096];          /* the file as given */
    uint64_t file_bytes;
    uint32_t file_type;       /* dominant weight type (enum hr_dtype) */
    uint32_t n_vocab;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;        /* attention.key_length (= value_length), else n_embd / n_head */
    uint32_t q_dim;           /* n_head * head_dim: width of Q and of the attention output */
    uint32_t n_rot;           /* rope.dimension_count, else head_dim */
    uint32_t n_ff;
    uint32_t n_ctx_train;
    float rope_theta;
    float rope_scale;         /* positions are multiplied by this (linear scaling: 1/factor); 1 */
    float rope_theta_swa;     /* the same two for sliding-window layers (gemma3: 10000 and 1); */
    float rope_scale_swa;     /*   equal to rope_theta / rope_scale elsewhere */
    float attn_scale;         /* scores are q.k * attn_scale: 1/sqrt(head_dim) but for gemma 27B */
    float norm_eps;
    float embed_scale;        /* embeddings are multiplied by this (gemma: sqrt(n_embd)); 1 */
    float attn_softcap;       /* scores -> tanh(s / cap) * cap when > 0 (gemma2) */
    float final_softcap;      /* same on the logits */
    uint32_t sliding_window;  /* layers with is_swa see only this many positions (self
                                 included); 0: none */
    uint32_t swa_period;      /* with a window, layer il is global when il % swa_period ==
                                 swa_period - 1 (0: none is): gemma2 2, gemma3 6 by default */
    bool ffn_gelu;            /* GELU (tanh form) instead of SiLU in the gated FFN */
    bool is_tied;             /* output.weight absent: classifier is token_embd */
    enum hr_pooling pooling;  /* <arch>.pooling_type; NONE when absent (see hr_embedder) */
    bool has_pooling;         /* the key is present */
    bool is_causal;           /* <arch>.attention.causal (default true; false is refused) */
    char *chat_template;      /* tokenizer.chat_template (NUL-terminated copy) or NULL */
    struct hr_chat_template *chat; /* compiled: the model's, an override, or the default */
    struct hr_tok *tok;
    /* weights */
    struct hr_weight tok_embd; /* [n_embd] x n_vocab rows */
    struct hr_weight output_norm;
    struct hr_weight output;   /* == tok_embd when tied */
    struct hr_weight rope_freqs; /* Llama 3.1+ long-context factors [n_rot/2]; data NULL */
    struct hr_layer *layers;
    struct hr_gguf *gguf;
};

/* Loads a GGUF model. Any unsupported architecture or tensor type, a missing tensor or a shape
 * that disagrees with the metadata fails with a diag naming it. Caller frees with
 * hr_model_free. Any thread (file reads: never the event loop). */
int hr_model_load(struct hr_model **out, const char *path, struct hr_diag *d);
void hr_model_free(struct hr_model *m);
/* A short description: "llama 0.26M F32" style, for logs and /v1/models. */
const char *hr_model_type_name(const struct hr_model *m);

/* Replaces the chat template (an operator's --chat-template file). Start-up only, before
 * the model is shared. HR_EINVAL with a diag naming the line when it cannot run. */
int hr_model_set_chat_template(struct hr_model *m, const char *src, size_t len,
                               struct hr_diag *d);
/* Renders a conversation through the model's template with its BOS/EOS texts (see
 * hr_chat_template_apply). Any thread. */
int hr_model_apply_chat(const struct hr_model *m, struct hr_jval *messages,
                        struct hr_jval *tools, bool add_generation_prompt, int64_t now,
                        char **out, struct hr_diag *d);

/* ---- batched evaluation ---- */

#define HR_KV_BLOCK 16 /* positions per KV block */

/* A paged KV cache shared by many sequences (ids 0..max_seqs-1), each growing block by block.
 * Engine thread. */
struct hr_kv;

/* What the cache stores: F16 halves memory at a small numeric cost; Q8_0 (heads a multiple of
 * 32 wide) halves it again; F32 is exact. */
enum hr_kv_type {
    HR_KV_F32,
    HR_KV_F16,
    HR_KV_Q8_0,
};

/* HR_EUNSUPPORTED for Q8_0 when the head size is not a multiple of 32. */
int hr_kv_new(struct hr_kv **out, const struct hr_model *m, enum hr_kv_type type,
              uint32_t n_blocks, uint32_t max_seqs, uint32_t max_tokens_per_seq);
void hr_kv_free(struct hr_kv *kv);
/* Gives seq blocks for positions < n_tokens. HR_EFULL when blocks run out (nothing changes),
 * HR_ECONTEXT beyond max_tokens_per_seq. */
int hr_kv_seq_reserve(struct hr_kv *kv, uint32_t seq, uint32_t n_tokens);
/* Returns all of seq's blocks. */
void hr_kv_seq_release(struct hr_kv *kv, uint32_t seq);
/* Blocks a sequence can still get: free ones plus cached ones (evicted on demand). */
uint32_t hr_kv_free_blocks(const struct hr_kv *kv);
/* Blocks in the cache, of HR_KV_BLOCK positions each. */
uint32_t hr_kv_total_blocks(const struct hr_kv *kv);
/* Prefix cache. For an empty seq, lends it the longest run of cached full blocks that hold
 * tokens' prefix (never the block of the last token: it must be evaluated for its logits) and
 * returns how many positions that covers; evaluation resumes there. Exact: a block matches
 * only when its tokens and every block before it do. */
uint32_t hr_kv_seq_attach_prefix(struct hr_kv *kv, uint32_t seq, const int32_t *tokens,
                                 uint32_t n_tokens);
/* After positions < n_valid of seq are evaluated (tokens: the sequence so far): makes its full
 * blocks findable by later sequences, and keeps them cached after it ends. */
void hr_kv_seq_commit(struct hr_kv *kv, uint32_t seq, const int32_t *tokens, uint32_t n_valid);
/* Blocks held by no sequence but kept for their prefixes. */
uint32_t hr_kv_cached_blocks(const struct hr_kv *kv);
uint64_t hr_kv_bytes(const struct hr_kv *kv);

/* One token of a ragged batch: its sequence, its position there, and whether its logits are
 * wanted. A sequence's tokens appear in increasing position order. */
struct hr_batch_tok {
    int32_t token;
    uint32_t seq;
    uint32_t pos;
    bool logits;
};

/* Scratch for batched forward passes over up to max_ctx positions per sequence. */
struct hr_runner;

int hr_runner_new(struct hr_runner **out, const struct hr_model *m, uint32_t max_ctx);
void hr_runner_free(struct hr_runner *r);
uint64_t hr_runner_scratch_bytes(const struct hr_runner *r);
/* Evaluates n tokens of any sequences in one pass (weights read once for all of them) and
 * writes one n_vocab row of logits per token flagged `logits`, in batch order. A token's
 * results are bit-identical whatever else is in the batch, where it sits, and however its
 * sequence's prompt was chunked. HR_ERANGE for a bad token or sequence id, HR_ECONTEXT for a
 * position outside the sequence's reserved blocks. */
int hr_runner_eval(struct hr_runner *r, struct hr_kv *kv, const struct hr_batch_tok *toks,
                   uint32_t n, float *logits, struct hr_pool *pool);

/* Per-sequence state: KV cache for n_ctx positions and the scratch buffers of one forward
 * pass. No allocation happens inside hr_ctx_eval. */
struct hr_ctx;

int hr_ctx_new(struct hr_ctx **out, const struct hr_model *m, uint32_t n_ctx);
void hr_ctx_free(struct hr_ctx *c);
uint32_t hr_ctx_n_ctx(const struct hr_ctx *c);
/* Bytes of the context's KV cache and of its scratch buffers. */
uint64_t hr_ctx_kv_bytes(const struct hr_ctx *c);
uint64_t hr_ctx_scratch_bytes(const struct hr_ctx *c);
/* Evaluates n tokens at positions pos..pos+n-1 (the cache must hold positions < pos) and
 * writes the logits of the last one (n_vocab floats) to logits, which may be NULL.
 * HR_ECONTEXT when pos + n > n_ctx. pool may be NULL. */
int hr_ctx_eval(struct hr_ctx *c, const int32_t *tokens, uint32_t n, uint32_t pos,
                float *logits, struct hr_pool *pool);
/* Like hr_ctx_eval but keeps the logits of every position: all_logits is n x n_vocab. */
int hr_ctx_eval_all(struct hr_ctx *c, const int32_t *tokens, uint32_t n, uint32_t pos,
                    float *all_logits, struct hr_pool *pool);

/* ---- embeddings (model_embed.c) ----
 *
 * An embedding is the final hidden state after output_norm (llama.cpp's t_embd, before the
 * classifier and any logit soft-capping) pooled over one sequence: MEAN averages every
 * position, CLS takes the first, LAST the last; then, unless asked not to, it is divided by
 * its L2 norm (a zero vector stays zero), as llama.cpp's server does (embd_normalize = 2).
 *
 * Which pooling: the request's, else the model's `<arch>.pooling_type`. A generative model
 * without that key has pooling NONE, as in llama.cpp (llama_hparams.pooling_type defaults to
 * NONE and llama_context keeps it), whose server then refuses /v1/embeddings ("Pooling type
 * 'none' is not OAI compatible") until the operator passes --pooling mean|cls|last; so here
 * such a request fails with HR_EUNSUPPORTED unless it names a pooling: neither MEAN nor LAST
 * is guessed. (Causal decoders trained as embedders, e.g. Qwen3-Embedding, carry the key, and
 * it says LAST: only the last position has seen the whole input.) Bidirectional models
 * (attention.causal = false) are refused at load, since every architecture loaded is a causal
 * decoder. */

/* "none", "mean", "cls", "last", "rank"; "?" for anything else. Any thread. */
const char *hr_pooling_name(enum hr_pooling p);
/* The pooling called name (as above); HR_EINVAL when there is none. Any thread. */
int hr_pooling_from_name(const char *name, enum hr_pooling *out);

/* One sequence to embed: n_tokens ids, the caller's storage. */
struct hr_embed_seq {
    const int32_t *tokens;
    uint32_t n_tokens;
};

/* A runner, a small F32 KV cache and the pooling scratch for sequences of up to max_tokens
 * positions: sequences stream through batches of HR_EMBED_BATCH tokens and give their KV
 * blocks back as soon as they are pooled, so the memory does not grow with their number and
 * nothing is allocated per call. Engine thread (or the caller's, one at a time). */
struct hr_embedder;

#define HR_EMBED_BATCH 64 /* tokens per forward pass of hr_embedder_run */

/* HR_EINVAL for max_tokens 0 or above HR_MODEL_MAX_CTX. Caller frees with hr_embedder_free. */
int hr_embedder_new(struct hr_embedder **out, const struct hr_model *m, uint32_t max_tokens);
void hr_embedder_free(struct hr_embedder *e);
/* Bytes of its KV cache and scratch buffers. */
uint64_t hr_embedder_bytes(const struct hr_embedder *e);

/* Embeds n_seqs sequences, packed in order into ragged batches (each its own sequence id, the
 * weights read once per batch), and writes n_seqs x n_embd floats to out, in order. A
 * sequence's vector is bit-identical alone or batched with any others, in any order, on any
 * number of threads. pooling HR_POOLING_UNSPECIFIED takes the model's; normalize divides by
 * the L2 norm. Errors, found before any work (out untouched): HR_EINVAL for no sequences or
 * an empty one; HR_ECONTEXT for one longer than max_tokens; HR_ERANGE for a token id outside
 * the vocabulary; HR_EUNSUPPORTED when the pooling, once UNSPECIFIED is resolved, is NONE or
 * RANK (or not a pooling at all). pool may be NULL. */
int hr_embedder_run(struct hr_embedder *e, const struct hr_embed_seq *seqs, uint32_t n_seqs,
                    enum hr_pooling pooling, bool normalize, float *out, struct hr_pool *pool);

#endif
