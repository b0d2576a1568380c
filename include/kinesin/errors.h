/* kinesin's error codes: the one table of errors every kinesin component uses. Each entry names
 * a KN_E* code, the AWS `__type` it stands for and its HTTP status. Functions return 0 or a
 * negative KN_E*. Entries whose type starts with "kinesin." never travel on the wire: they are
 * what the client library reports when no AWS answer exists (status 0). */
#ifndef KINESIN_ERRORS_H
#define KINESIN_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#define KN_ERRNO_MAP(X)                                                                                      \
    X(INVALID_ARGUMENT, "InvalidArgumentException", 400)                                                     \
    X(NOT_FOUND, "ResourceNotFoundException", 400)                                                           \
    X(IN_USE, "ResourceInUseException", 400)                                                                 \
    X(LIMIT_EXCEEDED, "LimitExceededException", 400)                                                         \
    X(VALIDATION, "ValidationException", 400)                                                                \
    X(SERIALIZATION, "SerializationException", 400)                                                          \
    X(UNKNOWN_OPERATION, "UnknownOperationException", 400)                                                   \
    X(MISSING_AUTH, "MissingAuthenticationTokenException", 400)                                              \
    X(INCOMPLETE_SIGNATURE, "IncompleteSignatureException", 400)                                             \
    X(INVALID_SIGNATURE, "InvalidSignatureException", 400)                                                   \
    X(EXPIRED_ITERATOR, "ExpiredIteratorException", 400)                                                     \
    X(EXPIRED_NEXT_TOKEN, "ExpiredNextTokenException", 400)                                                  \
    X(THROUGHPUT_EXCEEDED, "ProvisionedThroughputExceededException", 400)                                    \
    X(CONDITIONAL_CHECK_FAILED, "ConditionalCheckFailedException", 400)                                      \
    X(TRANSACTION_CANCELED, "TransactionCanceledException", 400)                                             \
    X(ACCESS_DENIED, "AccessDeniedException", 403)                                                           \
    X(INTERNAL, "InternalFailure", 500)                                                                      \
    X(IO, "InternalFailure", 500)                                                                            \
    X(NOMEM, "InternalFailure", 500)                                                                         \
    X(UNRECOGNIZED_CLIENT, "UnrecognizedClientException", 400)                                               \
    X(THROTTLING, "ThrottlingException", 400)                                                                \
    X(UNAVAILABLE, "ServiceUnavailable", 503)                                                                \
    X(NO_CREDENTIALS, "kinesin.NoCredentials", 0)                                                            \
    X(CONFIG, "kinesin.Configuration", 0)                                                                    \
    X(TRANSPORT, "kinesin.Transport", 0)                                                                     \
    X(TIMEOUT, "kinesin.Timeout", 0)                                                                         \
    X(BAD_RESPONSE, "kinesin.BadResponse", 0)                                                                \
    X(AWS, "kinesin.OtherAwsError", 0)                                                                       \
    X(CLOSED, "kinesin.Closed", 0)

enum {
    KN_OK = 0,
#define KN__ERR_ENUM(name, type, status) KN__E_##name,
    KN_ERRNO_MAP(KN__ERR_ENUM)
#undef KN__ERR_ENUM
        KN__E_COUNT
};

#define KN__ERR_CODE(name, type, status) KN_E##name = -KN__E_##name,
enum { KN_ERRNO_MAP(KN__ERR_CODE) };
#undef KN__ERR_CODE

/* The AWS error type of code (e.g. "ResourceNotFoundException"); "InternalFailure" if unknown. */
const char *kn_err_type(int code);
/* The HTTP status AWS answers code with. */
int kn_err_status(int code);
/* The symbolic name ("NOT_FOUND") for logs. */
const char *kn_err_name(int code);
/* The code whose AWS type is `type`, or KN_EINTERNAL. */
int kn_err_from_type(const char *type);

#ifdef __cplusplus
}
#endif

#endif
