#include "agent/sql/identifiers.h"

#include <algorithm>

namespace veil::sql {
namespace {

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The body of a quoted name with its doubled quotes undone.
std::string Unquote(const Token& t) {
  std::string_view body = t.Body();
  const char q = t.text.empty() ? '"' : t.text.front();
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    out.push_back(body[i]);
    if (body[i] == q && i + 1 < body.size() && body[i + 1] == q) ++i;
  }
  return LowerAscii(out);
}

void Collect(std::string_view sql, LexOptions options, IdentifierUse* use, bool* saw_backslash,
             bool* saw_conditional) {
  const bool mysql = options.dialect == Dialect::kMySql;
  Lexer lex(sql, options);
  for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) {
    switch (t.kind) {
      case TokenKind::kWord:
        use->identifiers.push_back(LowerAscii(t.text));
        break;
      case TokenKind::kQuotedIdent:
        // U&"..." (PostgreSQL) is not decoded: its escapes stay as written.
        use->identifiers.push_back(Unquote(t));
        break;
      case TokenKind::kString:
        if (mysql && t.form == StringForm::kPlain && t.text.front() == '"')
          use->identifiers.push_back(Unquote(t));
        break;
      case TokenKind::kVariable:
        if (t.text.substr(0, 2) != "@@") use->user_variable = true;
        break;
      default:
        break;
    }
  }
  if (saw_backslash) *saw_backslash = lex.saw_backslash_in_string();
  if (saw_conditional) *saw_conditional = lex.saw_conditional_comment();
}

}  // namespace

IdentifierUse Identifiers(std::string_view sql, LexOptions options) {
  IdentifierUse use;
  bool saw_backslash = false, saw_conditional = false;
  Collect(sql, options, &use, &saw_backslash, &saw_conditional);
  if (options.dialect == Dialect::kPostgres)
    saw_backslash = sql.find('\\') != std::string_view::npos;
  for (const LexOptions& other : OtherReadings(options, saw_backslash, saw_conditional))
    Collect(sql, other, &use, nullptr, nullptr);
  std::sort(use.identifiers.begin(), use.identifiers.end());
  use.identifiers.erase(std::unique(use.identifiers.begin(), use.identifiers.end()),
                        use.identifiers.end());
  return use;
}

std::string QuoteIdent(std::string_view name, char quote) {
  std::string q(1, quote);
  for (char ch : name) q.append(ch == quote ? 2 : 1, ch);
  q.push_back(quote);
  return q;
}

}  // namespace veil::sql
