#!/bin/sh
# The admin API for operators (README: "Admin API"). Needs curl.
#
#   ADMIN_URL=https://mcp.example.com ADMIN_TOKEN=... scripts/admin.sh <command> [args]
#
# Commands:
#   grants <user id> [cursor]
#                            the user's live grants (e.g. github:583231, dev:ada),
#                            20 a page: pass the answer's "next" for the next page
#   revoke-user <user id>    end every grant of the user (the server ends 20 per
#                            call: this repeats the call until it is complete and
#                            prints the last answer with the total revoked_grants)
#   delete-client <id>       delete a registered client and end all its grants
#                            (repeated the same way)
#   clients [limit] [cursor] registered clients, one page (limit 1-100, default 50)
#   create-client <name> <redirect uri>... [--post] [--scope "<scopes>"]
#                            a confidential client with fixed redirect URIs; prints
#                            its client_id and client_secret (shown this once only).
#                            --post: the client sends its secret in the form
#                            (client_secret_post) instead of HTTP Basic
#   block <kind> <value>     block a client: kind is client_id, document_url or
#                            document_host; ends the client's grants
#   unblock <kind> <value>   remove a block
#   blocks                   the block list
#
# Answers are printed as JSON; the exit status is non-zero on an HTTP error.
# The token is read from the environment, never from the command line, so it
# does not show in `ps` or shell history.
set -eu

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[ $# -ge 1 ] || usage
: "${ADMIN_URL:?set ADMIN_URL to the Worker origin, e.g. https://mcp.example.com}"
: "${ADMIN_TOKEN:?set ADMIN_TOKEN to the deployment's admin token}"
base=${ADMIN_URL%/}

# JSON string escaping for ids (quotes and backslashes).
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

call() { # method path [curl args...]
  method=$1 path=$2; shift 2
  printf 'Authorization: Bearer %s\n' "$ADMIN_TOKEN" |
    curl -sS --fail-with-body -X "$method" -H @- "$@" "$base$path"
  echo
}

post_json() { call POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }

# POSTs until the answer says "complete":true (at most 100 batches, more than
# an index lists); prints the last answer with revoked_grants summed. A failed
# batch stops with its error: run the command again to continue.
post_batches() {
  total=0 n=0
  while :; do
    out=$(post_json "$1" "$2")
    got=$(printf '%s' "$out" | sed -n 's/.*"revoked_grants":\([0-9]*\).*/\1/p')
    total=$((total + ${got:-0})) n=$((n + 1))
    case "$out" in *'"complete":false'*) [ "$n" -lt 100 ] && continue ;; esac
    printf '%s\n' "$out" | sed "s/\"revoked_grants\":[0-9]*/\"revoked_grants\":$total/"
    return
  done
}

cmd=$1; shift
case "$cmd" in
  grants)
    [ $# -eq 1 ] || [ $# -eq 2 ] || usage
    if [ $# -eq 2 ]; then
      call GET /admin/grants -G --data-urlencode "user_id=$1" --data-urlencode "cursor=$2"
    else
      call GET /admin/grants -G --data-urlencode "user_id=$1"
    fi ;;
  revoke-user)
    [ $# -eq 1 ] || usage
    post_batches /admin/users/revoke "{\"user_id\":$(json_str "$1")}" ;;
  delete-client)
    [ $# -eq 1 ] || usage
    post_batches /admin/clients/delete "{\"client_id\":$(json_str "$1")}" ;;
  clients)
    set -- "${1:-50}" "${2:-}"
    if [ -n "$2" ]; then
      call GET /admin/clients -G --data-urlencode "limit=$1" --data-urlencode "cursor=$2"
    else
      call GET /admin/clients -G --data-urlencode "limit=$1"
    fi ;;
  create-client)
    [ $# -ge 2 ] || usage
    name=$1; shift
    uris="" method=client_secret_basic scope=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --post) method=client_secret_post ;;
        --scope) [ $# -ge 2 ] || usage; scope=$2; shift ;;
        *) uris="${uris:+$uris,}$(json_str "$1")" ;;
      esac
      shift
    done
    [ -n "$uris" ] || usage
    body="{\"client_name\":$(json_str "$name"),\"redirect_uris\":[$uris],\"token_endpoint_auth_method\":\"$method\""
    [ -z "$scope" ] || body="$body,\"scope\":$(json_str "$scope")"
    post_json /admin/clients "$body}" ;;
  block|unblock)
    [ $# -eq 2 ] || usage
    case "$1" in client_id|document_url|document_host) ;; *) usage ;; esac
    path=/admin/blocks
    [ "$cmd" = block ] || path=/admin/blocks/delete
    post_json "$path" "{\"$1\":$(json_str "$2")}" ;;
  blocks)
    [ $# -eq 0 ] || usage
    call GET /admin/blocks ;;
  *) usage ;;
esac
