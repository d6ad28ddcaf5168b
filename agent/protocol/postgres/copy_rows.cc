#include "agent/protocol/postgres/copy_rows.h"

#include <cstring>

namespace veil::agent {
namespace {

using Kind = sql::CopyFormat::Kind;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A text-format field's escapes decoded (CopyReadAttributesText): \b \f \n \r \t \v, up to
// three octal digits, \x and up to two hex digits; any other escaped byte is itself.
void DecodeText(std::string_view raw, std::string* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      out->push_back(c);
      continue;
    }
    c = raw[++i];
    switch (c) {
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case 'x':
        if (i + 1 < raw.size() && HexValue(raw[i + 1]) >= 0) {
          int v = HexValue(raw[++i]);
          if (i + 1 < raw.size() && HexValue(raw[i + 1]) >= 0) v = v * 16 + HexValue(raw[++i]);
          out->push_back(static_cast<char>(v));
        } else {
          out->push_back('x');
        }
        break;
      default:
        if (c >= '0' && c <= '7') {
          int v = c - '0';
          for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7';
               ++k)
            v = v * 8 + (raw[++i] - '0');
          out->push_back(static_cast<char>(v));
        } else {
          out->push_back(c);
        }
    }
  }
}

}  // namespace

bool SplitCopyRow(std::string_view data, size_t* pos, const sql::CopyFormat& f,
                  std::string* scratch, std::vector<CopyField>* fields) {
  fields->clear();
  scratch->clear();
  scratch->reserve(data.size());  // decoding never lengthens: views into it stay put
  size_t i = *pos;
  const bool csv = f.kind == Kind::kCsv;
  // Text: a row with no backslash ends at the first '\n', and its fields at each delimiter;
  // otherwise a backslash escapes the byte after it, even a delimiter or a line end, as
  // PostgreSQL's reader takes it.
  size_t row_end = data.size();
  bool backslashes = false;
  if (!csv) {
    const void* nl = std::memchr(data.data() + i, '\n', data.size() - i);
    if (nl) row_end = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
    backslashes = std::memchr(data.data() + i, '\\', row_end - i) != nullptr;
    if (backslashes) row_end = data.size();
  }
  for (;;) {
    CopyField field;
    const size_t start = i;
    bool escaped = false;  // text: a backslash; CSV: a quote
    if (!csv) {
      if (!backslashes) {
        const void* d = std::memchr(data.data() + i, f.delimiter, row_end - i);
        i = d ? static_cast<size_t>(static_cast<const char*>(d) - data.data()) : row_end;
      } else {
        while (i < row_end && data[i] != f.delimiter && data[i] != '\n') {
          if (data[i] == '\\') {
            escaped = true;
            if (i + 1 < row_end) ++i;
          }
          ++i;
        }
      }
      field.raw = data.substr(start, i - start);
      field.null = field.raw == f.null;
      if (escaped && !field.null) {
        const size_t at = scratch->size();
        DecodeText(field.raw, scratch);
        field.value = std::string_view(*scratch).substr(at);
      } else {
        field.value = field.raw;
      }
    } else {
      const size_t at = scratch->size();
      bool in_quote = false;
      while (i < data.size()) {
        const char c = data[i];
        if (in_quote) {
          if (c == f.escape && i + 1 < data.size() &&
              (data[i + 1] == f.quote || data[i + 1] == f.escape)) {
            // "" when the quote is its own escape; a lone quote closes
            scratch->push_back(data[i + 1]);
            i += 2;
            continue;
          }
          if (c == f.quote) {
            in_quote = false;
            ++i;
            continue;
          }
        } else if (c == f.delimiter || c == '\n') {
          break;
        } else if (c == f.quote) {
          in_quote = escaped = true;
          ++i;
          continue;
        }
        scratch->push_back(c);
        ++i;
      }
      if (in_quote) return false;  // the row ended inside quotes
      field.raw = data.substr(start, i - start);
      field.quoted = escaped;
      field.null = !escaped && field.raw == f.null;
      field.value = escaped ? std::string_view(*scratch).substr(at) : field.raw;
      if (!escaped) scratch->resize(at);  // the copy was not needed
    }
    fields->push_back(field);
    if (i < data.size() && data[i] == f.delimiter) {
      ++i;
      continue;
    }
    break;
  }
  // The row's end: '\n', or "\r\n" (a CSV reader's line end; text escapes a '\r').
  if (i < data.size()) ++i;  // the '\n'
  if (!fields->empty() && csv && !fields->back().quoted && !fields->back().raw.empty() &&
      fields->back().raw.back() == '\r') {
    CopyField& last = fields->back();
    last.raw.remove_suffix(1);
    last.value = last.raw;
    last.null = last.raw == f.null;
  }
  *pos = i;
  return true;
}

void AppendCopyValue(std::string_view value, const sql::CopyFormat& f, bool quote,
                     std::string* out) {
  if (f.kind != Kind::kCsv) {
    for (char c : value) {
      const char* esc = nullptr;
      switch (c) {
        case '\\':
          esc = "\\\\";
          break;
        case '\b':
          esc = "\\b";
          break;
        case '\f':
          esc = "\\f";
          break;
        case '\n':
          esc = "\\n";
          break;
        case '\r':
          esc = "\\r";
          break;
        case '\t':
          esc = "\\t";
          break;
        case '\v':
          esc = "\\v";
          break;
        default:
          if (c == f.delimiter) out->push_back('\\');
          out->push_back(c);
          continue;
      }
      out->append(esc);
    }
    return;
  }
  quote = quote || f.force_quote || value == f.null || value == "\\.";
  for (char c : value)
    if (c == f.delimiter || c == f.quote || c == f.escape || c == '\n' || c == '\r') quote = true;
  if (!quote) {
    out->append(value);
    return;
  }
  out->push_back(f.quote);
  for (char c : value) {
    if (c == f.quote || c == f.escape) out->push_back(f.escape);
    out->push_back(c);
  }
  out->push_back(f.quote);
}

}  // namespace veil::agent
