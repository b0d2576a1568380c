/* Endpoint, region and credential resolution, the AWS SDKs' way (see kinesin.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client/internal.h"

int kn__fail(kn_error *err, int code, int status, const char *type, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    err->status = status;
    kn__copy(err->type, sizeof err->type, type ? type : kn_err_type(code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

void kn__copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

const char *kn__str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The value of `key` in section `section` of an INI file (AWS's shared-file dialect: "key =
 * value", '#' or ';' comments, sections "[name]"). Returns a malloc'd string, NULL when absent,
 * and sets *found_section when the section exists. KN_ENOMEM is reported through *rc. */
static char *ini_get(const char *path, const char *section, const char *key, bool *found_section, int *rc)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[4096];
    bool in = false;
    char *out = NULL;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
        if (*p == '#' || *p == ';' || *p == '\0') continue;
        if (*p == '[') {
            char *close = strchr(p, ']');
            if (!close) continue;
            *close = '\0';
            p++;
            while (isspace((unsigned char)*p)) p++;
            e = close;
            while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
            in = strcmp(p, section) == 0;
            if (in && found_section) *found_section = true;
            continue;
        }
        if (!in) continue;
        char *eq = strchr(p, '=');
        if (!eq) continue;
        char *ke = eq;
        while (ke > p && isspace((unsigned char)ke[-1])) ke--;
        if ((size_t)(ke - p) != strlen(key) || strncmp(p, key, strlen(key)) != 0) continue;
        char *v = eq + 1;
        while (isspace((unsigned char)*v)) v++;
        free(out);
        out = strdup(v);
        if (!out) *rc = KN_ENOMEM;
    }
    fclose(f);
    return out;
}

static char *file_path(const char *env_name, const char *leaf)
{
    const char *p = env(env_name);
    if (p) return strdup(p);
    const char *home = env("HOME");
    if (!home) return NULL;
    size_t n = strlen(home) + strlen(leaf) + 8;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/.aws/%s", home, leaf);
    return s;
}

static int dup_into(char **dst, const char *s)
{
    if (!s) return 0;
    *dst = strdup(s);
    return *dst ? 0 : KN_ENOMEM;
}

/* Credentials and region from the shared files for `profile`. */
static int from_files(const char *profile, bool want_creds, kn__settings *s, bool *profile_found)
{
    int rc = 0;
    char *cred_path = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    char *conf_path = file_path("AWS_CONFIG_FILE", "config");
    char conf_section[300];
    snprintf(conf_section, sizeof conf_section, strcmp(profile, "default") == 0 ? "%s" : "profile %s", profile);
    if (want_creds) {
        /* the credentials file first, then the config file, each as a whole */
        const char *paths[2] = {cred_path, conf_path};
        const char *sections[2] = {profile, conf_section};
        for (int i = 0; i < 2 && !s->access_key_id && rc == 0; i++) {
            if (!paths[i]) continue;
            char *ak = ini_get(paths[i], sections[i], "aws_access_key_id", profile_found, &rc);
            char *sk = ini_get(paths[i], sections[i], "aws_secret_access_key", profile_found, &rc);
            char *tk = ini_get(paths[i], sections[i], "aws_session_token", profile_found, &rc);
            if (ak && sk) {
                s->access_key_id = ak;
                s->secret_access_key = sk;
                s->session_token = tk;
            } else {
                free(ak);
                free(sk);
                free(tk);
            }
        }
    }
    if (!s->region && conf_path && rc == 0) s->region = ini_get(conf_path, conf_section, "region", profile_found, &rc);
    if (!s->region && cred_path && rc == 0) s->region = ini_get(cred_path, profile, "region", profile_found, &rc);
    free(cred_path);
    free(conf_path);
    return rc;
}

/* Splits the endpoint into the Host value to sign and the path. */
static int parse_endpoint(kn__settings *s, kn_error *err)
{
    int rc = KN_ECONFIG;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (!u) return kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, s->endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        kn__fail(err, KN_ECONFIG, 0, NULL, "endpoint '%s' is not a URL like http://127.0.0.1:4567", s->endpoint);
        goto fail;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        kn__fail(err, KN_ECONFIG, 0, NULL, "endpoint '%s': only http:// and https:// are supported", s->endpoint);
        goto fail;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    bool default_port = !port || (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
                        (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
    size_t n = strlen(host) + (port ? strlen(port) : 0) + 2;
    s->host = malloc(n);
    s->path = strdup(path && *path ? path : "/");
    if (!s->host || !s->path) {
        rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
        goto fail;
    }
    for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (default_port) snprintf(s->host, n, "%s", host);
    else snprintf(s->host, n, "%s:%s", host, port);
    rc = 0;
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

int kn__settings_resolve(const kn_client_options *o, kn__settings *s, kn_error *err)
{
    memset(s, 0, sizeof *s);
    int rc = 0;
    const char *profile = o->profile ? o->profile : env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    bool profile_found = false;

    if (o->access_key_id || o->secret_access_key) {
        if (!o->access_key_id || !o->secret_access_key) {
            rc = kn__fail(err, KN_ECONFIG, 0, NULL, "explicit credentials need both an access key id and a secret");
            goto fail;
        }
        if ((rc = dup_into(&s->access_key_id, o->access_key_id)) < 0 ||
            (rc = dup_into(&s->secret_access_key, o->secret_access_key)) < 0 ||
            (rc = dup_into(&s->session_token, o->session_token)) < 0)
            goto oom;
    } else if (!o->profile && env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        if ((rc = dup_into(&s->access_key_id, env("AWS_ACCESS_KEY_ID"))) < 0 ||
            (rc = dup_into(&s->secret_access_key, env("AWS_SECRET_ACCESS_KEY"))) < 0 ||
            (rc = dup_into(&s->session_token, env("AWS_SESSION_TOKEN"))) < 0)
            goto oom;
    }
    if ((rc = dup_into(&s->region, o->region ? o->region : env("AWS_REGION") ? env("AWS_REGION")
                                                                             : env("AWS_DEFAULT_REGION"))) < 0)
        goto oom;
    if ((rc = from_files(profile, !s->access_key_id, s, &profile_found)) < 0) goto oom;
    if (!s->access_key_id) {
        if (o->profile && !profile_found)
            rc = kn__fail(err, KN_ECONFIG, 0, NULL,
                          "profile '%s' not found in ~/.aws/credentials or ~/.aws/config", o->profile);
        else
            rc = kn__fail(err, KN_ENO_CREDENTIALS, 0, NULL,
                          "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add "
                          "aws_access_key_id and aws_secret_access_key to profile '%s' in ~/.aws/credentials",
                          profile);
        goto fail;
    }
    if (!s->region && (rc = dup_into(&s->region, "us-east-1")) < 0) goto oom;

    const char *svc = o->service == KN_SERVICE_DYNAMODB ? "dynamodb" : "kinesis";
    const char *ep = o->endpoint;
    if (!ep) ep = env(o->service == KN_SERVICE_DYNAMODB ? "AWS_ENDPOINT_URL_DYNAMODB" : "AWS_ENDPOINT_URL_KINESIS");
    if (!ep) ep = env("AWS_ENDPOINT_URL");
    if (ep) {
        if ((rc = dup_into(&s->endpoint, ep)) < 0) goto oom;
    } else {
        size_t n = strlen(s->region) + 64;
        if (!(s->endpoint = malloc(n))) goto oom;
        snprintf(s->endpoint, n, "https://%s.%s.amazonaws.com%s", svc, s->region,
                 strncmp(s->region, "cn-", 3) == 0 ? ".cn" : "");
    }
    size_t el = strlen(s->endpoint);
    while (el > 0 && s->endpoint[el - 1] == '/') s->endpoint[--el] = '\0';
    if ((rc = parse_endpoint(s, err)) < 0) goto fail;
    return 0;
oom:
    rc = kn__fail(err, KN_ENOMEM, 0, NULL, "out of memory");
fail:
    kn__settings_free(s);
    return rc;
}

void kn__settings_free(kn__settings *s)
{
    free(s->endpoint);
    free(s->host);
    free(s->path);
    free(s->region);
    free(s->access_key_id);
    if (s->secret_access_key) memset(s->secret_access_key, 0, strlen(s->secret_access_key));
    free(s->secret_access_key);
    free(s->session_token);
    memset(s, 0, sizeof *s);
}
