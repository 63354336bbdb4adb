/* Every cap on hostile input, with the reason for its value. A value reaching a cap is an
 * error with a message, never a silent clamp. */
#ifndef HR_LIMITS_H
#define HR_LIMITS_H

/* GGUF: real models have < 1,000 metadata keys and < 5,000 tensors; vocabularies up to
 * ~260k tokens (Gemma). The caps leave ample room while bounding allocation before the
 * file has proven it holds that many entries. */
#define HR_GGUF_MAX_KV 65536
#define HR_GGUF_MAX_TENSORS 65536
#define HR_GGUF_MAX_ARRAY (1u << 24)        /* elements in one metadata array */
#define HR_GGUF_MAX_STRING (1u << 26)       /* bytes in one string (chat templates ~ 10 KiB) */
#define HR_GGUF_MAX_NAME 256                /* tensor names are < 64 bytes in practice */
#define HR_GGUF_MAX_DIMS 4
#define HR_GGUF_MAX_ALIGNMENT 65536

/* Tokenizer: vocabularies above 1M tokens do not exist; a single piece over 1 KiB is junk. */
#define HR_TOK_MAX_VOCAB (1u << 20)
#define HR_TOK_MAX_PIECE 1024

/* Model shape: bounds that every released llama-family model sits well inside. */
#define HR_MODEL_MAX_LAYERS 512
#define HR_MODEL_MAX_EMBD 65536
#define HR_MODEL_MAX_HEADS 1024
#define HR_MODEL_MAX_CTX (1u << 20)
#define HR_MODEL_MAX_HEAD_DIM 512 /* real models use <= 256; bounds per-head stack buffers */

/* Requests: a prompt may not exceed the context anyway; this bounds work before tokenizing. */
#define HR_MAX_PROMPT_BYTES (16u << 20)
#define HR_MAX_MESSAGES 4096
#define HR_MAX_STOP 4
/* OpenAI allows n up to 128 choices. */
#define HR_MAX_CHOICES 128
/* A stop string is a few words; its length bounds how much text streaming holds back. */
#define HR_MAX_STOP_BYTES 256
/* OpenAI caps logit_bias at 300 tokens and values at +-100. */
#define HR_MAX_LOGIT_BIAS 1024
#define HR_MAX_THREADS 256
/* Embeddings: OpenAI takes at most 2048 inputs per request and 300,000 tokens in all; the
 * same caps bound the work one request can queue (each input must also fit the context). */
#define HR_MAX_EMBED_INPUTS 2048
#define HR_MAX_EMBED_TOKENS 300000

/* Grammars (response_format json_schema, llama.cpp's grammar): real schemas compile to a few
 * hundred rules and a few KiB of GBNF; the caps bound compile time and memory for hostile
 * ones. At run time the stack cap bounds work per byte of an ambiguous grammar, and the depth
 * cap the nesting of output (JSON 1,024 levels deep is no answer anyone wants). */
#define HR_GRAMMAR_MAX_SOURCE (1u << 20)   /* bytes of GBNF or schema text */
#define HR_GRAMMAR_MAX_RULES 16384         /* rules, generated ones included */
#define HR_GRAMMAR_MAX_SYMS (1u << 20)     /* symbols after expanding repetitions */
#define HR_GRAMMAR_MAX_NEST 64             /* nested groups / schema levels / JSON depth */
#define HR_GRAMMAR_MAX_REPEAT 1000         /* m and n of x{m,n}, minItems, maxLength... */
#define HR_GRAMMAR_MAX_STACKS 1024         /* parallel parses of an ambiguous grammar */
#define HR_GRAMMAR_MAX_DEPTH 1024          /* frames of one parse stack */

/* HTTP: OpenAI accepts bodies of a few MiB; 16 MiB is the default --max-body. */
#define HR_HTTP_DEFAULT_MAX_BODY (16u << 20)
/* libmicrohttpd's per-connection memory: request line, headers and the read and write
 * buffers. Real clients send a few KiB of headers (the openai SDK about 600 bytes); beyond
 * this MHD answers 431 and closes. 1000 connections then hold at most 32 MiB. */
#define HR_HTTP_CONN_MEMORY (32u << 10)
/* Metrics series (endpoint x status pairs): routes and statuses are both a short fixed list. */
#define HR_METRICS_MAX_SERIES 256

#endif
