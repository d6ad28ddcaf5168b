#include "agent/events/normalize.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "agent/sql/classifier.h"
#include "agent/sql/lexer.h"

namespace veil::events {
namespace {

using sql::Lexer;
using sql::LexOptions;
using sql::Token;
using sql::TokenKind;

// A byte range [begin, end) of the input.
using Range = std::pair<size_t, size_t>;

bool IsLiteral(const Token& t, sql::Dialect dialect) {
  return t.kind == TokenKind::kString || t.kind == TokenKind::kNumber ||
         // An unterminated "identifier runs to the end of the input: whatever it swallowed
         // was not meant as a name.
         (t.kind == TokenKind::kQuotedIdent && !t.terminated) ||
         // MySQL: "..." is a string unless the session has ANSI_QUOTES on, which it can turn
         // off at any time.
         (dialect == sql::Dialect::kMySql && t.kind == TokenKind::kQuotedIdent &&
          t.text.front() == '"');
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

// The ranges of `sql` up to `limit` that are not code in the reading `options`: literals, and
// the gaps between tokens (space and comments).
std::vector<Range> NonCodeRanges(std::string_view sql, LexOptions options, size_t limit) {
  std::vector<Range> out;
  Lexer lex(sql, options);
  size_t prev_end = 0;
  for (Token t = lex.Next(); t.kind != TokenKind::kEnd && t.pos < limit; t = lex.Next()) {
    if (t.pos > prev_end) out.emplace_back(prev_end, t.pos);
    if (IsLiteral(t, options.dialect)) out.emplace_back(t.pos, t.end());
    prev_end = t.end();
  }
  if (prev_end < sql.size()) out.emplace_back(prev_end, sql.size());
  return out;
}

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  return n;
}

}  // namespace

std::string SanitizeUtf8(std::string_view text) {
  // Nearly every string in an event is ASCII: copy the ASCII prefix in one go.
  size_t i = 0;
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  if (i == text.size()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  out.append(text.substr(0, i));
  while (i < text.size()) {
    size_t n = Utf8SequenceLength(text.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string NormalizeStatement(std::string_view sql, NormalizeOptions options) {
  const size_t max_bytes = std::max(options.max_bytes, kTruncationMarker.size() + 1);
  const size_t budget = max_bytes - kTruncationMarker.size();

  // First pass: the tokens that fit in the output, each with the text it contributes. Every
  // token contributes at least one byte, so this stops long before a huge input's end.
  struct Piece {
    size_t pos, end;
    bool literal;
  };
  std::vector<Piece> pieces;
  const LexOptions lex_options{.standard_conforming_strings = options.standard_conforming_strings,
                               .dialect = options.dialect,
                               .no_backslash_escapes = options.no_backslash_escapes,
                               .ansi_quotes = options.ansi_quotes};
  Lexer lex(sql, lex_options);
  size_t length = 0;  // of the output in this reading; the other can only shorten it
  size_t last_end = 0;
  bool truncated = false;
  for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) {
    if (t.kind == TokenKind::kOther && !IsPrintableAscii(t.text)) continue;  // control bytes
    const bool literal = IsLiteral(t, options.dialect);
    // Invalid UTF-8 grows by up to 3x when sanitized; count that exactly only when it matters.
    size_t size = literal ? 1 : t.text.size();
    if (!literal && length + 3 * size + 1 > max_bytes) size = SanitizeUtf8(t.text).size();
    length += (length > 0 && t.pos > last_end) + size;
    if (length > max_bytes) {
      truncated = true;
      break;
    }
    last_end = t.end();
    pieces.push_back({t.pos, t.end(), literal});
  }

  // The other reading of backslashes in plain strings. The lexer notices such a backslash only
  // when it does not treat it as an escape, so look for any backslash in the part read.
  const size_t limit = pieces.empty() ? 0 : pieces.back().end;
  std::vector<Range> other;
  if (options.dialect == sql::Dialect::kPostgres) {
    if (sql.substr(0, limit).find('\\') != std::string_view::npos) {
      other = NonCodeRanges(
          sql, LexOptions{.standard_conforming_strings = !options.standard_conforming_strings},
          limit);
    }
  } else {
    // MySQL: the lexer reports every backslash in a string, escape or not, and every comment
    // whose reading depends on the server; the union of what is not code in any other reading.
    for (const LexOptions& o : sql::OtherReadings(lex_options, lex.saw_backslash_in_string(),
                                                  lex.saw_conditional_comment())) {
      std::vector<Range> more = NonCodeRanges(sql, o, limit);
      other.insert(other.end(), more.begin(), more.end());
    }
    std::sort(other.begin(), other.end());
    std::vector<Range> merged;
    for (const Range& range : other) {
      if (!merged.empty() && range.first <= merged.back().second)
        merged.back().second = std::max(merged.back().second, range.second);
      else
        merged.push_back(range);
    }
    other = std::move(merged);
  }

  std::string out;
  out.reserve(std::min(sql.size(), max_bytes));
  std::vector<size_t> boundaries;  // where each piece's text ends in `out`
  size_t prev_end = 0;
  bool prev_disputed = false;
  size_t r = 0;  // first range of `other` that may overlap the current piece
  for (const Piece& p : pieces) {
    while (r < other.size() && other[r].second <= p.pos) ++r;
    const bool disputed = !p.literal && r < other.size() && other[r].first < p.end;
    // Code in this reading but not in the other: a run of such tokens becomes one `?`.
    if (disputed && prev_disputed) {
      prev_end = p.end;
      continue;
    }
    prev_disputed = disputed;
    std::string text =
        p.literal || disputed ? std::string("?") : SanitizeUtf8(sql.substr(p.pos, p.end - p.pos));
    const bool space = !out.empty() && p.pos > prev_end;
    if (out.size() + space + text.size() > max_bytes) {
      truncated = true;
      break;
    }
    if (space) out += ' ';
    out += text;
    boundaries.push_back(out.size());
    prev_end = p.end;
  }
  if (truncated) {
    // Cut back to the last piece that leaves room for the marker.
    size_t keep = 0;
    for (size_t b : boundaries)
      if (b <= budget) keep = b;
    out.resize(keep);
    out += kTruncationMarker;
  }
  return out;
}

namespace {

std::string QueryUid(std::string_view normalized) {
  // A context per thread, the digest fetched once: OpenSSL 3's one-shot SHA256() fetches it
  // under a lock every call.
  thread_local EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, sha256, nullptr);
  EVP_DigestUpdate(ctx, normalized.data(), normalized.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string_view KindOf(std::string_view sql, LexOptions options) {
  using K = sql::StatementInfo::Kind;
  std::string_view kind = "other";
  sql::StatementReader reader(sql, options);  // no vector of results to allocate
  for (sql::StatementInfo s; reader.Next(&s);) {
    if (s.kind == K::kDdl || s.ddl) return "ddl";
    if (s.kind == K::kWrite || s.writes)
      kind = "write";
    else if (s.kind == K::kRead && kind == "other")
      kind = "read";
  }
  return kind;
}

}  // namespace

const StatementDigest& DigestStatement(std::string_view sql, bool scs) {
  return DigestStatement(sql, LexOptions{.standard_conforming_strings = scs});
}

const StatementDigest& DigestStatement(std::string_view sql, LexOptions options) {
  struct Slot {
    std::string sql;
    LexOptions options;
    bool used = false;
    StatementDigest digest;
  };
  constexpr size_t kSlots = 256, kMaxCachedSql = 4096;
  thread_local std::vector<Slot> cache(kSlots);
  thread_local Slot uncached;  // texts too long to keep
  Slot* slot = &cache[std::hash<std::string_view>{}(sql) % kSlots];
  if (slot->used && slot->options == options && slot->sql == sql) return slot->digest;
  if (sql.size() > kMaxCachedSql) slot = &uncached;
  slot->sql.assign(sql);
  slot->options = options;
  slot->used = true;
  slot->digest.text =
      NormalizeStatement(sql, {.standard_conforming_strings = options.standard_conforming_strings,
                               .dialect = options.dialect,
                               .no_backslash_escapes = options.no_backslash_escapes,
                               .ansi_quotes = options.ansi_quotes});
  // The uid is a function of the normalized text alone, which many raw texts share (the same
  // statement with other literals): remembered per normalized text, it costs no SHA-256.
  struct UidSlot {
    std::string normalized;
    std::string uid;
  };
  thread_local std::vector<UidSlot> uids(kSlots);
  const std::string& text = slot->digest.text;
  if (text.size() > kMaxCachedSql) {
    slot->digest.uid = QueryUid(text);
  } else {
    UidSlot& u = uids[std::hash<std::string_view>{}(text) % kSlots];
    if (u.uid.empty() || u.normalized != text) {
      u.uid = QueryUid(text);
      u.normalized = text;
    }
    slot->digest.uid = u.uid;
  }
  slot->digest.kind = KindOf(sql, options);
  return slot->digest;
}

}  // namespace veil::events
