/* Shared by the api/ request parsers; nothing outside api/ includes this. */
#ifndef HR_API_INT_H
#define HR_API_INT_H

#include "api.h"

/* 400 invalid_type: "Invalid type for 'param': expected want, but got <kind> instead." */
int hr_api__bad_type(struct hr_api_error *e, const char *param, const char *want, const json_t *v);
/* 400 unsupported_parameter naming param. Both return -1. */
int hr_api__unsupported(struct hr_api_error *e, const char *param, const char *what);
/* OpenAI's rule for function and schema names: 1-64 of a-z, A-Z, 0-9, '_' and '-'. */
bool hr_api__valid_name(const char *s, size_t n);
/* chat_tools.c: tools, tool_choice, and the tool fields of message i (tool_calls on an
 * assistant message, tool_call_id on a tool message). 0 or -1 with e filled. */
int hr_api__parse_tools(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
int hr_api__parse_message_tools(json_t *msg, size_t i, const char *role,
                                struct hr_api_error *e);

#endif
