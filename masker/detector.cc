#include "masker/detector.h"

#include <hs.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unordered_set>

#include "common/text.h"
#include "masker/catalog.h"
#include "masker/command_line.h"
#include "masker/letters.h"
#include "masker/names.h"
#include "masker/prefilter.h"
#include "masker/sort.h"
#include "masker/unicode_fold.h"
#include "masker/validators.h"

namespace veil::masker {

using catalog::DbClass;
using catalog::PatternSpec;
using catalog::Resolver;

struct Detector::Db {
  hs_database_t* db = nullptr;
  DbClass cls = DbClass::kLiteral;
  bool som = false;  // custom-entity database: reports start of match; scans everything
  ~Db() { hs_free_database(db); }
};

namespace {
int CurrentYear() {
  static const int year = [] {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
  }();
  return year;
}
bool ScriptAddressValue(std::string_view v);  // below
size_t StreetLineValue(std::string_view v);   // below
}  // namespace

bool ValueIs(Entity entity, std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return false;
  // Tokens (JWTs, keys) can be long; everything else in a cell longer than this is free text.
  switch (entity) {
    case Entity::kJwt:
      return validate::Jwt(v);
    case Entity::kAwsAccessKey:
      return validate::AwsAccessKey(v);
    case Entity::kGcpApiKey:
      return validate::GcpApiKey(v);
    case Entity::kGithubToken:
      return validate::GithubToken(v);
    case Entity::kSlackToken:
      return validate::SlackToken(v);
    case Entity::kStripeKey:
      return validate::StripeKey(v);
    case Entity::kOpenAiApiKey:
      return validate::OpenAiKey(v);
    case Entity::kCryptoWallet:
      return validate::CryptoWallet(v);
    case Entity::kApiToken:  // its shape was matched; a placeholder's body is not random
      return v.size() >= 16 && validate::ShannonEntropy(v) >= 3.0;
    default:
      break;
  }
  if (v.size() > 256) return false;
  char d[32];
  size_t nd = validate::StripToDigits(v, d, sizeof(d));
  std::string_view digits(d, std::min(nd, sizeof(d)));
  switch (entity) {
    case Entity::kStreetAddress: {             // a house number, then a street name
      if (ScriptAddressValue(v)) return true;  // or one of another script: "北京市…88号"
      size_t i = 0;
      while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
      return (i > 0 && i + 2 < v.size() && v[i] == ' ' &&
              ((v[i + 1] >= 'A' && v[i + 1] <= 'Z') || (v[i + 1] >= 'a' && v[i + 1] <= 'z'))) ||
             StreetLineValue(v) > 0;  // or the number after the name: "Olmo 4", "Höggen 10b"
    }
    case Entity::kNationalId: {  // a column of national ids: 6-24 letters and digits, 5+ digits
      char c[32];
      const size_t n = validate::CompactUpper(v, c, sizeof(c));
      const size_t digits_in =
          static_cast<size_t>(std::count_if(c, c + n, [](char x) { return x >= '0' && x <= '9'; }));
      return n >= 6 && n <= 24 && digits_in >= 5;
    }
    case Entity::kPersonName:
    case Entity::kGenericSecret:  // any value of a password/secret/token column
      return std::any_of(v.begin(), v.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               static_cast<unsigned char>(c) >= 0x80;
      });
    case Entity::kEmail:
      return validate::Email(v);
    case Entity::kPhone: {  // shape first: 7-15 digits in the characters phones are written with
      if (nd < 7 || nd > 15) return validate::Phone(v);
      return std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' ||
               c == '+';
      });
    }
    case Entity::kDateOfBirth:
      return validate::DateOfBirth(v, CurrentYear());
    case Entity::kUsSsn:
      return nd == 9 && validate::UsSsn(digits);
    case Entity::kUsItin:
      return nd == 9 && validate::UsItin(digits);
    case Entity::kUsBankRouting:
      return nd == 9 && validate::AbaRouting(digits);
    case Entity::kUsNpi:
      return nd == 10 && validate::UsNpi(digits);
    case Entity::kBankAccount:  // 6-17 digits in groups
      return nd >= 6 && nd <= 17 && std::all_of(v.begin(), v.end(), [](char c) {
               return (c >= '0' && c <= '9') || c == ' ' || c == '-';
             });
    case Entity::kCardCvv:
      return (nd == 3 || nd == 4) && nd == v.size();
    case Entity::kUkNhs:
      return nd == 10 && validate::UkNhs(digits);
    case Entity::kCreditCard:
      return nd >= 13 && nd <= 19 && validate::CreditCard(digits);
    case Entity::kUsPassport:
      return validate::UsPassport(v);
    case Entity::kUsDriverLicense:
      return validate::UsDriverLicense(v);
    case Entity::kIpAddress:
      return validate::IpV4(v) || validate::IpV6(v);
    case Entity::kMacAddress:
      return validate::MacAddress(v);
    case Entity::kAwsSecretKey:
      return validate::AwsSecretKey(v);
    case Entity::kIban: {
      char c[40];
      size_t n = validate::CompactUpper(v, c, sizeof(c));
      return n > 0 && validate::Iban(std::string_view(c, n));
    }
    default:
      return false;
  }
}

namespace {

// A 3-2-4 dashed number the SSA never issued: an SSN only with SSN words near it.
constexpr float kUnissuedSsnScore = 0.45f;
// A Luhn-valid card number whose prefix no network issues: kept only with card words near.
constexpr float kUnbrandedCardScore = 0.4f;

// Hyperscan ids: built-in patterns by catalog index; custom entities from kCustomIdBase.
constexpr unsigned kCustomIdBase = 1u << 16;

inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }
inline bool IsAlpha(unsigned char c) { return IsUpper(c) || IsLower(c); }
inline bool IsAlnum(unsigned char c) { return IsDigit(c) || IsAlpha(c); }
inline bool IsWord(unsigned char c) { return IsAlnum(c) || c == '_'; }
inline bool IsHex(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline char Lower(unsigned char c) { return IsUpper(c) ? static_cast<char>(c + 32) : c; }

inline bool OneOf(std::string_view w, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

// Han, kana or Hangul (letters::At gives 0 for the 4-byte CJK extensions): scripts that write
// a name with no space inside it.
inline bool CjkLetter(uint32_t cp) {
  return cp == 0 || (cp >= 0x3041 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x9FFF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3);
}

// Labels that end a name written before them on the same line ("محمد أحمد هاتف 0501234567",
// "राहुल शर्मा फोन 98765 43210"): the phone labels of catalog.cc's other scripts.
bool IsScriptLabel(std::string_view w) {
  static constexpr std::string_view kLabels[] = {
      "هاتف",      "الهاتف", "جوال",   "الجوال", "موبايل",   "تلفون",   "טלפון",   "נייד",
      "τηλ",       "Τηλ",    "κινητό", "फोन",    "फ़ोन",      "मोबाइल",  "दूरभाष",   "โทร",
      "มือถือ",      "연락처", "휴대폰", "Тел",    "тел",      "телефон", "Телефон", "моб",
      "Мобильный", "ईमेल",    "تلفن",   "موبایل", "τηλέφωνο", "ტელეფონი"};
  return OneOf(w, kLabels);
}

// A courtesy title written after a Chinese, Japanese or Korean name ("王秀英女士", "山田様",
// "김민준님"): not part of the name.
void StripHonorific(std::string_view* name) {
  static constexpr std::string_view kAfter[] = {"先生", "女士", "小姐", "様", "さん", "님", "씨"};
  for (std::string_view h : kAfter)
    if (name->size() > h.size() && name->ends_with(h)) {
      name->remove_suffix(h.size());
      return;
    }
}

// A word that a sentence has and a name has not: negations, copulas, prepositions ("не",
// "لا", "है", "است", "δεν", "არ").
bool IsFunctionWord(std::string_view word) {
  static constexpr std::string_view kFunction[] = {
      "не",  "нет", "без",  "является", "немає", "є",    "لا",   "غير", "في",  "من",
      "هو",  "هي",  "نیست", "است",      "در",    "از",   "לא",   "אין", "של",  "הוא",
      "היא", "नहीं", "है",    "का",       "की",    "के",    "कोई",  "δεν", "Δεν", "για",
      "και", "του", "της",  "είναι",    "არ",    "არის", "უნდა", "და"};
  return OneOf(word, kFunction);
}

// Whether text starts with the copula or particle that follows a name said in Japanese or
// Korean ("山田太郎です", "김민준입니다", "김민준이에요"): the name ends there.
bool IsCopulaAt(std::string_view text) {
  for (std::string_view c : {"です", "と申します", "입니다", "이에요", "예요", "이고", "라고"})
    if (text.starts_with(c)) return true;
  return false;
}

// The bytes of the Chinese family name that `s` starts with (a compound one such as 欧阳, or
// one of the single ones most people carry, simplified or traditional), or 0. A name glued to
// its label ("联系人王秀英") has no other boundary: its family name is where it starts.
size_t HanSurnameLength(std::string_view s) {
  static constexpr std::string_view kCompound[] = {
      "欧阳", "歐陽", "司马", "司馬", "诸葛", "諸葛", "上官", "东方", "東方", "皇甫",
      "令狐", "慕容", "尉迟", "尉遲", "公孙", "公孫", "长孙", "長孫", "夏侯", "轩辕"};
  for (std::string_view c : kCompound)
    if (s.starts_with(c)) return c.size();
  static constexpr std::string_view kSingle =
      "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
      "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
      "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
      "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
      "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
      "閔張劉陳楊黃趙吳孫馬鄭謝許韓馮鄧蕭葉蘇呂盧鍾譚陸賈韋鄒閆龍賀顧龔萬錢嚴湯溫齊喬龐顏莊聶魯"
      "蘭畢單羅駱藍鮑饒項蘆竇黨費衛";
  if (s.size() < 3) return 0;
  for (size_t i = 0; i + 3 <= kSingle.size(); i += 3)
    if (s.compare(0, 3, kSingle.substr(i, 3)) == 0) return 3;
  return 0;
}

// A particle, a pronoun or a verb's aspect starts no Chinese name ("我叫了外卖", "我叫你"); in a
// name glued to its label, none follows the family name.
bool StartsWithParticle(std::string_view s) {
  for (std::string_view c : {"了", "你", "他", "她", "我", "它", "们", "过", "的", "是", "不", "没",
                             "在", "这", "那", "一", "什么"})
    if (s.starts_with(c)) return true;
  return false;
}

// Values a form writes where a name would be, in the scripts of ScriptName's labels: unknown,
// none, anonymous, test, the customer themself.
bool IsNoName(std::string_view w) {
  static constexpr std::string_view kNone[] = {
      "未知",       "暂无",  "不详",    "匿名",    "本人",       "客户",    "用户",      "男性",
      "女性",       "全部",  "其他",    "待定",    "测试",       "管理员",  "系统",      "不明",
      "未定",       "なし",  "テスト",  "없음",    "미상",       "미정",    "테스트",    "고객",
      "неизвестно", "нет",   "аноним",  "тест",    "Неизвестно", "Нет",     "غير معروف", "لا يوجد",
      "اختبار",     "אין",   "לא ידוע", "בדיקה",   "अज्ञात",      "कोई नहीं", "परीक्षण",    "ไม่ทราบ",
      "ไม่มี",        "ทดสอบ", "Άγνωστο", "άγνωστο", "Κανένα"};
  if (OneOf(w, kNone)) return true;
  // A first word that names a company's legal form ("ООО Ромашка", "ТОВ …", "شركة …"), a place
  // ("श्री लंका") or a placeholder ("სახელი=მნიშვნელობა ფორმატში"); any word that a sentence has and
  // a name has not: negations, copulas, prepositions ("не указана", "لا يوجد", "ცარიელი არ უნდა
  // იყოს", "नहीं है").
  static constexpr std::string_view kFirst[] = {
      "ООО", "ОАО", "ЗАО", "ПАО", "АО", "ИП", "Индивидуальный", "ОП", "ТОВ", "ТДВ", "КТ", "ДП",
      "ПП", "ПрАТ", "ФОП", "شركة", "חברת", "लंका", "Εταιρεία", "บริษัท",
      // "value", as documentation writes a key's placeholder ("имя=значение", "이름=값").
      "значение", "значення", "值", "値", "값", "მნიშვნელობა", "قيمة", "ערך", "मान", "ค่า", "τιμή",
      "مقدار"};

  const std::string_view head = w.substr(0, w.find(' '));
  if (OneOf(head, kFirst)) return true;
  for (std::string_view rest = w; !rest.empty();) {
    const size_t sp = rest.find(' ');
    if (IsFunctionWord(rest.substr(0, sp))) return true;
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  // A company, a bank, a hospital, a school: "腾讯公司", "株式会社", "우리은행".
  static constexpr std::string_view kOrg[] = {"公司", "集团", "集團", "银行", "銀行",
                                              "医院", "醫院", "学校", "學校", "中心",
                                              "会社", "회사", "은행", "병원"};
  for (std::string_view x : kOrg)
    if (w.ends_with(x)) return true;
  return false;
}

// Whether v reads as an address written in a script beyond ASCII: a letter of it and a digit,
// or Han or Hangul with a street's word (路, 街, 号, 丁目, 로, 길 …; a city alone, "辰男市", is
// none); not a pointer or a format string ("0x7ffd5e8c", "0x%08x, размер: %u"), not "unknown".
bool ScriptAddressValue(std::string_view v) {
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  bool digit = false, script = false, han = false;
  for (size_t i = 0; i < v.size();) {
    const letters::Letter l = p[i] >= 0x80 ? letters::At(p + i, v.size() - i) : letters::Letter{};
    digit = digit || IsDigit(p[i]);
    script = script || l.len;
    han = han || (l.len && CjkLetter(l.cp));
    i += l.len ? l.len : 1;
  }
  bool marked = digit;
  if (!marked && han)
    for (std::string_view m : {"路", "街", "巷", "弄", "号", "號", "丁目", "番地", "로", "길"})
      marked = marked || v.find(m) != std::string_view::npos;
  // Street words of Persian, Arabic and Hebrew, which name a street with no number after a
  // label: "خیابان ملکیان ساختمان لسان" (street, building), "شارع", "کوچه", "بلوار", "רחוב",
  // "שדרות".
  if (!marked && !han)
    for (std::string_view m : {"خیابان", "کوچه", "بلوار", "شارع", "طريق", "רחוב", "שדרות"})
      marked = marked || v.find(m) != std::string_view::npos;
  return marked && script && !v.starts_with("0x") && v.find('%') == std::string_view::npos &&
         !IsNoName(v);
}

// The length of the street line v starts with, 0 if it reads as none: a house number
// standing as a word (1-5 digits, a letter after them or not: "10b", "4 A 14"; or "84/92")
// next to a capitalised word or one of another script ("Aleksilinja 4", "147 Daako Link"; not
// "Add support for 3 address cells"), up to the ',' (the town), ';', " and " or " - " after
// them; not an e-mail, URL, path, IP or pointer. An address of a script without Latin letters
// as ScriptAddressValue reads it ("北京市朝阳区建国路88号", "ул. Ленина, 5").
size_t StreetLineValue(std::string_view v) {
  if (v.empty() || v.size() > 120) return 0;
  if (std::none_of(v.begin(), v.end(), [](char c) { return IsAlpha(c); }))
    return ScriptAddressValue(v) ? v.size() : 0;
  if (v.find('@') != std::string_view::npos || v.find("://") != std::string_view::npos ||
      v.starts_with("0x") || v[0] == '/' || v.find('\\') != std::string_view::npos)
    return 0;
  // Words of a sentence about a number, not a street's name beside its house number ("Add
  // support for 3 address cells", "greater than 2").
  static constexpr std::string_view kProse[] = {
      "for",  "to",    "of",    "in",     "on",    "at",     "than", "the",   "and",  "or",
      "with", "by",    "from",  "is",     "are",   "was",    "be",   "has",   "have", "about",
      "over", "under", "after", "before", "per",   "each",   "only", "all",   "top",  "up",
      "down", "last",  "first", "next",   "every", "within", "into", "least", "most", "since"};
  enum Kind : uint8_t { kOtherTok, kNumberTok, kWordTok, kLowerTok, kThroughTok };
  Kind prev = kOtherTok;
  bool street = false, capital = false;
  for (size_t i = 0; i < v.size();) {
    const unsigned char c = v[i];
    if (street && (c == ',' || c == ';' || v.substr(i).starts_with(" and ") ||
                   v.substr(i).starts_with(" - ")))
      return i;
    if (c == ' ' || c == ',' || c == '\t') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < v.size() && v[j] != ' ' && v[j] != ',' && v[j] != '\t' && v[j] != ';') ++j;
    std::string_view t = v.substr(i, j - i);
    while (t.size() > 1 && (t.back() == '.' || t.back() == '!' || t.back() == ')'))
      t.remove_suffix(1);
    if (t.size() > 1 && t.front() == '(') t.remove_prefix(1);
    // The message going on after the address ("… Suite 692 Thanks.").
    static constexpr std::string_view kClosing[] = {
        "Thanks",   "Thank", "Thx",   "Please", "Cheers",  "Regards",
        "Best",     "Danke", "Bitte", "Merci",  "Gracias", "Grazie",
        "Obrigado", "Dank",  "Tack",  "Kiitos", "Dziękuję"};
    if (street && OneOf(t, kClosing)) return i;
    size_t d = 0;
    while (d < t.size() && IsDigit(t[d])) ++d;
    Kind kind = kOtherTok;
    if (t == "no" || t == "No" || t == "nr" || t == "Nr" || t == "#" || t == "n\xC2\xB0" ||
        t == "n\xC2\xBA" || t == "N\xC2\xBA") {
      kind = kThroughTok;  // "Jln. Icha no 95", "Hauptstr. Nr. 5"
    } else if (d >= 1 && d <= 5) {
      std::string_view rest = t.substr(d);
      if (rest.starts_with('/') && rest.size() > 1 && IsDigit(rest[1])) {
        rest.remove_prefix(1);
        while (!rest.empty() && IsDigit(rest[0])) rest.remove_prefix(1);
      }
      // "10b", and Portugal's unit after a dash: "952-Ap", "2-Piso", "1503-8Esq".
      if (rest.empty() || (rest.size() == 1 && IsAlpha(rest[0])) ||
          (rest.size() > 1 && rest[0] == '-' && (IsUpper(rest[1]) || IsDigit(rest[1]))))
        kind = kNumberTok;
    } else if (d == 0 && (IsUpper(c) || c >= 0xC3 || IsLower(c))) {
      size_t letters = 0;
      for (unsigned char x : t) letters += IsAlpha(x) || x >= 0x80;
      if (letters >= 3) kind = IsLower(c) ? (OneOf(t, kProse) ? kOtherTok : kLowerTok) : kWordTok;
    }
    if (kind == kThroughTok) {
      i = j;
      continue;
    }
    // A house number beside a capitalised word, or beside a lower-case one of a name that
    // began with a capital ("Porte noire 256", "Spāres bulvāris 816").
    street = street ||
             (kind == kNumberTok && (prev == kWordTok || (prev == kLowerTok && capital))) ||
             (kind == kWordTok && prev == kNumberTok);
    capital = capital || kind == kWordTok;
    prev = kind;
    i = j;
  }
  return street ? v.size() : 0;
}

// Whether v ends in a word of lower-case ASCII letters standing apart ("… 12 units", "… Grv
// today"): prose after a number, where a street line was read from a phrase or a cell.
bool EndsInLowerWord(std::string_view v) {
  size_t w = v.size();
  while (w > 0 && IsAlpha(static_cast<unsigned char>(v[w - 1]))) --w;
  return w < v.size() && IsLower(static_cast<unsigned char>(v[w])) && (w == 0 || v[w - 1] == ' ');
}

// The text a resolver sees: the scanned bytes and the segment the match lies in.
struct View {
  const char* p;
  uint32_t seg_start;
  uint32_t seg_end;
  unsigned char at(int64_t i) const {
    return (i < seg_start || i >= seg_end) ? 0 : static_cast<unsigned char>(p[i]);
  }
  std::string_view sub(uint32_t b, uint32_t e) const { return {p + b, e - b}; }
};

struct Cand {
  uint32_t start, end;
  uint8_t entity;
  float score;
};

class Resolution {
 public:
  Resolution(const View& v, std::vector<EntityMatch>* out) : v_(v), out_(out) {}

  void Emit(uint32_t b, uint32_t e, Entity entity, float score) {
    if (e <= b) return;
    out_->push_back({b, e, static_cast<uint8_t>(entity), score});
  }
  void Emit(uint32_t b, uint32_t e, Entity entity) {
    Emit(b, e, entity, catalog::Info(entity).base_score);
  }

  // Where the dot-atom local part before the '@' at `at` begins (`at` when there is none).
  uint32_t LocalPartStart(uint32_t at) const {
    auto local = [](unsigned char c) {
      return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c >= 0x80;
    };
    uint32_t b = at;
    // An apostrophe inside a name ("o'brien.patrick@"), not a quote around the address.
    while (b > v_.seg_start && at - b < 64 &&
           (local(v_.at(b - 1)) || (v_.at(b - 1) == '\'' && b > v_.seg_start + 1 &&
                                    IsAlnum(v_.at(b - 2)) && b < at && IsAlnum(v_.at(b)))))
      --b;
    while (b < at && v_.at(b) == '.') ++b;
    return b;
  }

  void Email(uint32_t to) {
    const uint32_t at = to - 2;
    if (v_.at(at + 1) == '[') return AddressLiteralEmail(at);
    uint32_t b = at;
    bool quoted = false;
    if (at > v_.seg_start && v_.at(at - 1) == '"') {
      // "john doe"@example.com: the quoted string back to its opening quote, on one line.
      uint32_t q = at - 1;
      while (q > v_.seg_start && at - q <= 66 && v_.at(q - 1) != '"' && v_.at(q - 1) >= 0x20) --q;
      if (q == v_.seg_start || v_.at(q - 1) != '"' || q + 1 >= at) return;
      // Something worth quoting: `{"domain": "@example.com"}` quotes only ": " between its
      // strings.
      bool word = false;
      for (uint32_t i = q; i + 1 < at && !word; ++i) word = IsAlnum(v_.at(i));
      if (!word) return;
      b = q - 1;
      quoted = true;
    }
    if (!quoted) b = LocalPartStart(at);
    // The domain with UTF-8 labels (straße.de), else ASCII only: "bob@example.com’s" ends at
    // "com", whose apostrophe is UTF-8.
    auto domain_end = [&](bool utf8) {
      uint32_t e = at + 1;
      while (
          e < v_.seg_end && e - at <= 253 &&
          (IsAlnum(v_.at(e)) || v_.at(e) == '.' || v_.at(e) == '-' || (utf8 && v_.at(e) >= 0x80)))
        ++e;
      while (e > at + 1 && (v_.at(e - 1) == '.' || v_.at(e - 1) == '-')) --e;
      return e;
    };
    uint32_t e = domain_end(true);
    if (const uint32_t ascii = domain_end(false); ascii != e && !validate::Email(v_.sub(b, e)))
      e = ascii;
    // user:password@host inside a URL is not an address.
    for (uint32_t i = b, n = 0; i > v_.seg_start && n < 256; --i, ++n) {
      unsigned char c = v_.at(i - 1);
      if (c == '/' && v_.at(i - 2) == '/' && v_.at(i - 3) == ':') return;
      if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '<' || c == '(' || c == '/' ||
          c == '?' || c == '&' || c == '=' || c == '#' || c == ',')
        break;  // not inside the userinfo of a URL
    }
    std::string_view s = v_.sub(b, e);
    // A quoted local part is checked by its domain (any printable text may be quoted).
    std::string checked;
    if (quoted) {
      checked.assign("q").append(v_.sub(at, e));
      s = checked;
    }
    if (!validate::Email(s) || FileExtensionTld(s)) return;
    Emit(b, e, Entity::kEmail);
    // "Jane Doe <jane@example.com>": the display name of an address is a person's name.
    if (b >= v_.seg_start + 2 && v_.at(b - 1) == '<' && v_.at(b - 2) == ' ') NameBefore(b - 2);
  }

  // local@[192.0.2.7] or local@[IPv6:…]: the local part as for any address, the domain an
  // address literal.
  void AddressLiteralEmail(uint32_t at) {
    const uint32_t b = LocalPartStart(at);
    uint32_t close = at + 2;
    while (close < v_.seg_end && close - at < 50 && v_.at(close) != ']') ++close;
    if (b == at || close >= v_.seg_end || v_.at(close) != ']') return;
    std::string_view inside = v_.sub(at + 2, close);
    const bool literal = inside.starts_with("IPv6:") || inside.starts_with("ipv6:")
                             ? validate::IpV6(inside.substr(5))
                             : validate::IpV4(inside);
    std::string checked(v_.sub(b, at));
    checked.append("@example.com");
    if (!literal || !validate::Email(checked)) return;
    Emit(b, close + 1, Entity::kEmail);
  }

  void FixedToken(const PatternSpec& ps, uint32_t to) {
    if (to < ps.core_len) return;
    const uint32_t b = to - ps.core_len;
    if (b < v_.seg_start) return;
    auto ext = ExtendClass(ps.entity);
    unsigned char before = v_.at(static_cast<int64_t>(b) - 1);
    if (b > v_.seg_start && (IsAlnum(before) || before == '_' || (before == '-' && ext('-'))))
      return;
    uint32_t e = to;
    if (ps.max_len > ps.core_len) {
      while (e < v_.seg_end && e - b < ps.max_len && ext(v_.at(e))) ++e;
    }
    if (ps.entity == Entity::kJwt || ps.entity == Entity::kApiToken) {
      while (e > to && v_.at(e - 1) == '.') --e;  // a sentence's full stop
    }
    if (e < v_.seg_end && IsAlnum(v_.at(e))) return;  // longer token: not this entity
    std::string_view s = v_.sub(b, e);
    // Placeholders such as sk_live_xxxxxxxxxxxxxxxxxxxxxxxx: a real key's body is random.
    if (ps.entity != Entity::kCryptoWallet &&
        validate::ShannonEntropy(s.substr(std::min<size_t>(s.size(), 8))) < 1.5)
      return;
    if (!ValueIs(ps.entity, s)) return;
    Emit(b, e, ps.entity);
    if (ps.entity == Entity::kAwsAccessKey) SecretAfterAccessKey(e);
  }

  // An access key id and its secret travel together, with no keyword between them: a
  // credentials CSV ("AKIA…,wJalr…"), `aws configure list`, a pasted pair. The 40 bytes
  // after a few separators are the secret when they have its shape.
  void SecretAfterAccessKey(uint32_t e) {
    static constexpr std::string_view kSeparators = " \t,;|:\"'=";
    uint32_t p = e;
    while (p < v_.seg_end && p - e < 6 &&
           kSeparators.find(static_cast<char>(v_.at(p))) != std::string_view::npos)
      ++p;
    if (p == e) return;
    uint32_t q = p;
    while (q < v_.seg_end && q - p <= 40 &&
           (IsAlnum(v_.at(q)) || v_.at(q) == '/' || v_.at(q) == '+'))
      ++q;
    if (validate::AwsSecretKey(v_.sub(p, q))) Emit(p, q, Entity::kAwsSecretKey);
  }

  void PrivateKey(uint32_t to) {
    static constexpr std::string_view kBegin = "-----BEGIN";
    uint32_t b = to;
    for (uint32_t i = to; i + 40 > to && i > v_.seg_start; --i) {
      if (i - 1 + kBegin.size() <= v_.seg_end && v_.sub(i - 1, i - 1 + kBegin.size()) == kBegin) {
        b = i - 1;
        break;
      }
    }
    if (b == to) return;
    std::string_view rest = v_.sub(to, v_.seg_end);
    uint32_t e = v_.seg_end;  // no footer: everything after the header is key material
    size_t f = rest.find("-----END");
    if (f != std::string_view::npos) {
      size_t close = rest.find("-----", f + 8);
      if (close != std::string_view::npos) e = to + static_cast<uint32_t>(close + 5);
    }
    Emit(b, e, Entity::kPrivateKey);
  }

  void UrlPassword(uint32_t to) {
    const uint32_t at = to - 1;  // '@'
    // Find "://" going back, then the first ':' after it.
    uint32_t scheme_end = 0;
    for (uint32_t i = at; i >= v_.seg_start + 3 && at - i < 400; --i) {
      if (v_.at(i - 3) == ':' && v_.at(i - 2) == '/' && v_.at(i - 1) == '/') {
        scheme_end = i;
        break;
      }
    }
    if (scheme_end == 0) return;
    uint32_t colon = scheme_end;
    while (colon < at && v_.at(colon) != ':') ++colon;
    if (colon >= at) return;
    // A password with an '@' of its own, left unencoded (`mysql://root:p@ssw0rd@db/app`): the
    // host starts after the authority's last '@'.
    uint32_t e = at;
    for (uint32_t k = at + 1; k < v_.seg_end && k - at < 256; ++k) {
      const unsigned char c = v_.at(k);
      if (c <= ' ' || c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '>') break;
      if (c == '@') e = k;
    }
    const uint32_t b = colon + 1;
    std::string_view pw = v_.sub(b, e);
    if (pw.empty()) return;
    const bool env_var = pw[0] == '$' && pw.size() > 1 &&
                         (pw[1] == '{' || pw[1] == '(' ||
                          pw.substr(1).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
                              std::string_view::npos);
    if (env_var || pw[0] == '{' || pw[0] == '<' ||
        pw.find_first_not_of('*') == std::string_view::npos ||
        pw.find_first_not_of("xX") == std::string_view::npos)
      return;
    Emit(b, e, Entity::kPasswordInUrl);
  }

  // Whether the text that ends at `to` is one of `words` (lower case; any case in the text).
  // `alone`: the word starts its line or follows a space, not glued to a key before it
  // (`pwd=password x`); else it may end a longer key (`MYSQL_ROOT_PASSWORD`, `db_pwd`).
  bool EndsWithWord(uint32_t to, std::initializer_list<std::string_view> words,
                    bool alone = true) const {
    for (std::string_view w : words) {
      if (to < v_.seg_start + w.size()) continue;
      const uint32_t b = to - static_cast<uint32_t>(w.size());
      if (EqualsLower(v_.sub(b, to), w) &&
          (!alone || b == v_.seg_start || v_.at(b - 1) == ' ' || v_.at(b - 1) == '\t'))
        return true;
    }
    return false;
  }

  // A provider's token by its published prefix (catalog::TokenPrefixesFrom) in the token run
  // that starts at `b`: the prefix starts there, or up to 64 bytes before it across bytes the
  // run does not hold (`hvs.`, `dp.pt.`, `xoxe.xoxp-1-`, `sha256~`, a base64 body's '=' or '+').
  void PrefixedToken(uint32_t b) {
    auto joined = [](unsigned char c) {
      return IsWord(c) || c == '-' || c == '.' || c == ':' || c == '~' || c == '=' || c == '+' ||
             c == '/';
    };
    uint32_t s0 = b;
    while (s0 > v_.seg_start && b - s0 < 64 && joined(v_.at(s0 - 1))) --s0;
    for (uint32_t s = s0; s <= b; ++s) {
      const unsigned char before = v_.at(static_cast<int64_t>(s) - 1);
      if (s > v_.seg_start && (IsAlnum(before) || before == '_' || before == '-')) continue;
      if (TokenWithPrefixAt(s) || ShapedTokenAt(s)) return;
    }
  }

  // A stored password hash around the token run that starts at `b`, in the forms systems store
  // them: modular crypt (`$2b$12$…` bcrypt, `$argon2id$v=19$…`, `$6$rounds=5000$…`, `$1$`,
  // `$apr1$`, `$y$`, phpass `$P$`), Django's and passlib's `pbkdf2_sha256$260000$…`,
  // Werkzeug's `pbkdf2:sha256:600000$…`, PostgreSQL's `SCRAM-SHA-256$4096:…` and `md5` + 32
  // hex, MySQL's `*` + 40 hex, LDAP's `{SSHA}…`. A hash of a password is a credential: MySQL's
  // and PostgreSQL's md5 log in as they are, and every one of them is cracked offline. Their
  // '$', '*', '{', '.' and '/' break token runs, so the start is looked for up to 128 bytes back.
  // `*until`: where the last hash found ends (the token runs inside it need no second look).
  bool PasswordHash(uint32_t b, uint32_t* until) {
    auto joined = [](unsigned char c) {
      return IsWord(c) || c == '-' || c == '.' || c == ':' || c == '=' || c == '+' || c == '/' ||
             c == '$' || c == ',' || c == '*' || c == '{' || c == '}';
    };
    if (b < *until) return true;
    uint32_t s0 = b;
    while (s0 > v_.seg_start && b - s0 < 128 && joined(v_.at(s0 - 1))) --s0;
    for (uint32_t s = s0; s <= b; ++s) {
      if (s > v_.seg_start && IsAlnum(v_.at(s - 1))) continue;
      if (const uint32_t e = PasswordHashAt(s)) {
        Emit(s, e, Entity::kGenericSecret, 0.9f);
        *until = e;
        return true;
      }
    }
    return false;
  }

  // The end of a password hash that starts at s, or 0.
  uint32_t PasswordHashAt(uint32_t s) const {
    auto count = [&](uint32_t i, auto in) {
      uint32_t k = i;
      while (k < v_.seg_end && k - i < 512 && in(v_.at(k))) ++k;
      return k - i;
    };
    auto upper_hex = [](unsigned char c) { return IsDigit(c) || (c >= 'A' && c <= 'F'); };
    auto lower_hex = [](unsigned char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); };
    auto b64 = [](unsigned char c) { return IsAlnum(c) || c == '+' || c == '/' || c == '='; };
    // The characters of a crypt field: crypt's own base64 (./), standard base64 (+/=), and the
    // parameters' "m=65536,t=3,p=4".
    auto field = [](unsigned char c) {
      return IsWord(c) || c == '.' || c == '/' || c == '+' || c == '=' || c == ',' || c == '-';
    };
    auto end_ok = [&](uint32_t e) { return !IsAlnum(v_.at(e)) && v_.at(e) != '$'; };
    const unsigned char c = v_.at(s);
    if (c == '*') {  // MySQL's mysql_native_password: '*' and SHA1(SHA1(pw)) in upper-case hex
      return count(s + 1, upper_hex) == 40 && end_ok(s + 41) ? s + 41 : 0;
    }
    if (c == 'm' && v_.sub(s, s + 3) == "md5") {  // PostgreSQL's md5 of password and user name
      return count(s + 3, lower_hex) == 32 && end_ok(s + 35) ? s + 35 : 0;
    }
    // Fields joined by '$' from `from`: at least `min_fields`, the last a hash of 16+ characters
    // that looks random. Returns the end.
    auto fields = [&](uint32_t from, int min_fields) -> uint32_t {
      uint32_t k = from, last = from;
      int n = 0;
      while (n < 6) {
        last = k;
        k += count(k, field);
        ++n;
        if (v_.at(k) != '$' || k + 1 >= v_.seg_end) break;
        ++k;
      }
      if (n < min_fields || k - last < 16 || !end_ok(k)) return 0;
      if (!validate::LooksLikeCredential(v_.sub(last, k))) return 0;
      return k;
    };
    if (c == '$') {  // modular crypt: $id$[params$]salt$hash, phpass $P$ and 31
      const uint32_t id = count(s + 1, [](unsigned char x) { return IsAlnum(x) || x == '-'; });
      if (id == 0 || id > 12 || v_.at(s + 1 + id) != '$') return 0;
      const std::string_view name = v_.sub(s + 1, s + 1 + id);
      if ((name == "P" || name == "H") && count(s + 3, field) == 31 && end_ok(s + 34))
        return s + 34;
      return fields(s + 2 + id, 2);
    }
    if (c == '{') {  // LDAP's userPassword: {SCHEME} and the hash (or, for CLEARTEXT, the text)
      const uint32_t n =
          count(s + 1, [](unsigned char x) { return IsUpper(x) || IsDigit(x) || x == '-'; });
      if (n < 2 || n > 16 || v_.at(s + 1 + n) != '}') return 0;
      const std::string_view scheme = v_.sub(s + 1, s + 1 + n);
      const uint32_t q = s + 2 + n;
      if (scheme == "CRYPT") return v_.at(q) == '$' ? PasswordHashAt(q) : 0;
      if (scheme == "CLEARTEXT" || scheme == "PLAIN") {
        const uint32_t len =
            count(q, [](unsigned char x) { return x > ' ' && x != '"' && x != '\''; });
        return len > 0 ? q + len : 0;
      }
      static constexpr std::string_view kSchemes[] = {
          "SHA",           "SSHA",          "SHA256", "SSHA256", "SHA384", "SSHA384",
          "SHA512",        "SSHA512",       "MD5",    "SMD5",    "PBKDF2", "PBKDF2-SHA1",
          "PBKDF2-SHA256", "PBKDF2-SHA512", "ARGON2", "BCRYPT"};
      if (std::find(std::begin(kSchemes), std::end(kSchemes), scheme) == std::end(kSchemes))
        return 0;
      if (v_.at(q) == '$') return PasswordHashAt(q);
      const uint32_t len = count(q, b64);
      return len >= 16 && end_ok(q + len) ? q + len : 0;
    }
    if (c == 'S' && v_.sub(s, s + 10) == "SCRAM-SHA-") {
      // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
      uint32_t k = s + 10;
      k += count(k, [](unsigned char x) { return IsDigit(x); });
      if (v_.at(k) != '$') return 0;
      const uint32_t it = count(k + 1, [](unsigned char x) { return IsDigit(x); });
      k += 1 + it;
      if (it == 0 || v_.at(k) != ':') return 0;
      k += 1 + count(k + 1, b64);
      if (v_.at(k) != '$') return 0;
      k += 1 + count(k + 1, b64);
      if (v_.at(k) != ':') return 0;
      const uint32_t key = count(k + 1, b64);
      return key >= 16 && end_ok(k + 1 + key) ? k + 1 + key : 0;
    }
    if (IsLower(c)) {
      // Django's and passlib's algorithm$…, Werkzeug's pbkdf2:sha256:600000$… and scrypt:…$…
      const uint32_t w =
          count(s, [](unsigned char x) { return IsLower(x) || IsDigit(x) || x == '_'; });
      const std::string_view alg = v_.sub(s, s + w);
      if (v_.at(s + w) == ':' && (alg == "pbkdf2" || alg == "scrypt")) {
        uint32_t k = s + w;
        k += count(k, [](unsigned char x) { return IsLower(x) || IsDigit(x) || x == ':'; });
        return v_.at(k) == '$' ? fields(k + 1, 2) : 0;
      }
      static constexpr std::string_view kAlgorithms[] = {"pbkdf2_sha256",
                                                         "pbkdf2_sha1",
                                                         "pbkdf2_sha512",
                                                         "argon2",
                                                         "bcrypt_sha256",
                                                         "bcrypt",
                                                         "scrypt",
                                                         "sha1",
                                                         "md5",
                                                         "sha256_crypt",
                                                         "sha512_crypt",
                                                         "md5_crypt",
                                                         "django_pbkdf2_sha256"};
      if (v_.at(s + w) != '$' ||
          std::find(std::begin(kAlgorithms), std::end(kAlgorithms), alg) == std::end(kAlgorithms))
        return 0;
      return fields(s + w + 1, 2);
    }
    return 0;
  }

  // Tokens whose shape, not a prefix, tells them (weak literals cost Hyperscan more than all
  // the rest): Telegram bot tokens, Discord bot tokens, Airtable and Harness personal access
  // tokens, Mailchimp API keys.
  bool ShapedTokenAt(uint32_t s) {
    auto count = [&](uint32_t i, auto in, uint32_t max) {
      uint32_t k = 0;
      while (i + k < v_.seg_end && k < max && in(v_.at(i + k))) ++k;
      return k;
    };
    auto url = [](unsigned char c) { return IsWord(c) || c == '-'; };
    auto alnum = [](unsigned char c) { return IsAlnum(c); };
    auto hex = [](unsigned char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); };
    auto digit = [](unsigned char c) { return IsDigit(c); };
    auto is = [&](uint32_t i, char c) { return i < v_.seg_end && v_.at(i) == c; };
    uint32_t e = 0;
    const unsigned char c0 = v_.at(s);
    if (IsDigit(c0)) {
      // Telegram: the bot's id (8-10 digits), ':', then "AA" and 33 more.
      const uint32_t d = count(s, digit, 11);
      if (d >= 8 && d <= 10 && is(s + d, ':') && is(s + d + 1, 'A') && is(s + d + 2, 'A') &&
          count(s + d + 3, url, 34) == 33)
        e = s + d + 36;
    }
    if (!e && (c0 == 'M' || c0 == 'N' || c0 == 'O')) {
      // Discord: a user id in base64 (24-26), '.', a timestamp (6), '.', an HMAC (27-38).
      const uint32_t a = count(s, alnum, 27);
      if (a >= 24 && a <= 26 && is(s + a, '.') && count(s + a + 1, url, 7) == 6 &&
          is(s + a + 7, '.')) {
        const uint32_t h = count(s + a + 8, url, 39);
        if (h >= 27 && h <= 38) e = s + a + 8 + h;
      }
    }
    if (!e && (c0 == 'p' || c0 == 's') && v_.sub(s + 1, s + 3) == "at") {
      if (c0 == 'p' && count(s + 3, alnum, 15) == 14 && is(s + 17, '.') &&
          count(s + 18, hex, 65) == 64) {
        e = s + 82;  // Airtable: "pat", 14, '.', 64 hex
      } else if (is(s + 3, '.') && count(s + 4, url, 23) == 22 && is(s + 26, '.') &&
                 count(s + 27, hex, 25) == 24 && is(s + 51, '.') &&
                 count(s + 52, alnum, 21) == 20) {
        e = s + 72;  // Harness: "pat." or "sat.", 22, '.', 24 hex, '.', 20
      }
    }
    if (!e && hex(c0) && count(s, hex, 33) == 32 && v_.sub(s + 32, s + 35) == "-us") {
      const uint32_t d = count(s + 35, digit, 3);
      if (d >= 1 && d <= 2) e = s + 35 + d;  // Mailchimp: 32 hex, "-us", the data centre
    }
    if (!e && is(s + 4, 'Q') && is(s + 5, '~') && IsDigit(v_.at(s + 3))) {
      // Azure AD (Entra ID) client secret: 3, a digit, "Q~", 31-34 of [A-Za-z0-9_~.-]; its
      // '~' and '.' break token runs, so the run that found it may start after them.
      auto body = [](unsigned char c) { return IsWord(c) || c == '~' || c == '.' || c == '-'; };
      uint32_t h = count(s + 6, body, 36);
      if (h > 31 && v_.at(s + 6 + h - 1) == '.') --h;  // a sentence's full stop
      const unsigned char nx = v_.at(s + 6 + h);
      if (count(s, body, 3) == 3 && h >= 31 && h <= 34 &&
          (!body(nx) || (nx == '.' && !body(v_.at(s + 7 + h)))))
        e = s + 6 + h;
    }
    if (!e || url(v_.at(e)) || !validate::LooksLikeCredential(v_.sub(s, e))) return false;
    Emit(s, e, Entity::kApiToken);
    return true;
  }

  bool TokenWithPrefixAt(uint32_t s) {
    for (const catalog::TokenPrefix& tp : catalog::TokenPrefixesFrom(v_.at(s))) {
      const auto n = static_cast<uint32_t>(tp.prefix.size());
      if (s + n > v_.seg_end || v_.sub(s, s + n) != tp.prefix) continue;
      const uint32_t q = s + n;
      uint32_t e = q;
      while (e < v_.seg_end && e - q < 4096 && catalog::InTokenBody(tp.body, v_.at(e))) ++e;
      // A sentence's full stop, unless the body needs it for its length.
      if (e - q > tp.min_len && v_.at(e - 1) == '.') --e;
      const uint32_t len = e - q;
      // Too short, or glued to more letters: not this token.
      if (len < tp.min_len || (tp.exact && len != tp.min_len) || IsAlnum(v_.at(e))) continue;
      if (!validate::LooksLikeCredential(v_.sub(q, e))) continue;  // a placeholder
      Emit(s, e, Entity::kApiToken);
      return true;
    }
    return false;
  }

  // The credentials in the commands of the line that holds `pos` (masker/command_line.h):
  // `mysql -pS3cr3t`, `curl -u admin:pw`, `--db-password X`. Returns where the line ends.
  uint32_t CommandLine(uint32_t pos) {
    // A line that ends in a backslash goes on in the next (`mysql -u root \`, `  -pS3cr3t`).
    auto continued = [&](uint32_t nl) {  // the line break at nl
      return v_.at(nl - 1) == '\\' || (v_.at(nl - 1) == '\r' && v_.at(nl - 2) == '\\');
    };
    uint32_t ls = pos, le = pos;
    while (ls > v_.seg_start && pos - ls < 4096 &&
           (v_.at(ls - 1) != '\n' || (ls >= 2 && continued(ls - 1))))
      --ls;
    while (le < v_.seg_end && le - pos < 4096 && (v_.at(le) != '\n' || continued(le))) ++le;
    thread_local std::vector<cli::Span> spans;
    spans.clear();
    cli::Secrets(v_.sub(ls, le), &spans);
    for (const cli::Span& sp : spans) Emit(ls + sp.begin, ls + sp.end, Entity::kGenericSecret);
    return le;
  }

  // A credential right after its label (`hooks.slack.com/services/`, `AccountKey=`, `Bearer `):
  // the value runs to a delimiter, at least ps.core_len and at most ps.max_len bytes.
  void SecretAfter(const PatternSpec& ps, uint32_t to) {
    uint32_t p = to;
    while (p < v_.seg_end && v_.at(p) == ' ') ++p;
    auto stop = [](unsigned char c) {
      return c <= ' ' || c == '"' || c == '\'' || c == '`' || c == ';' || c == '&' || c == ',' ||
             c == '<' || c == '>' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' ||
             c == '}' || c == '\\' || c == '#' || c == '?' || c == '|';
    };
    uint32_t e = p;
    while (e < v_.seg_end && e - p < ps.max_len && !stop(v_.at(e))) ++e;
    while (e > p && v_.at(e - 1) == '.') --e;  // a sentence's full stop
    if (e - p < ps.core_len || !validate::LooksLikeCredential(v_.sub(p, e))) return;
    Emit(p, e, ps.entity);
  }

  // `Authorization: Basic dXNlcjpwYXNz`, a Docker config's `"auth": "…"`: base64 of user:password.
  void BasicAuth(uint32_t to) {
    uint32_t p = to;
    while (p < v_.seg_end && v_.at(p) == ' ') ++p;
    uint32_t e = p;
    while (e < v_.seg_end && e - p < 1024 &&
           (IsAlnum(v_.at(e)) || v_.at(e) == '+' || v_.at(e) == '/' || v_.at(e) == '='))
      ++e;
    if (e - p < 8 || IsWord(v_.at(e)) || !validate::BasicCredentials(v_.sub(p, e))) return;
    Emit(p, e, Entity::kGenericSecret);
  }

  // scheme://KEY@host: a user part with no password that is a key (Sentry's DSN, a token
  // pasted as the user of a git remote).
  void UrlUser(uint32_t to) {
    const uint32_t at = to - 1;  // '@'
    uint32_t b = at;
    while (b > v_.seg_start && (IsWord(v_.at(b - 1)) || v_.at(b - 1) == '-')) --b;
    if (b < v_.seg_start + 3 || v_.sub(b - 3, b) != "://") return;
    // A key is 32+ hex digits, or 24+ characters of mixed case and digits; a user name
    // (`deploy-bot-2024-ci`) is neither.
    const std::string_view user = v_.sub(b, at);
    const bool hex = user.size() >= 32 && std::all_of(user.begin(), user.end(), [](char c) {
                       return IsDigit(c) || (c >= 'a' && c <= 'f');
                     });
    const bool mixed = user.size() >= 24 && std::any_of(user.begin(), user.end(), IsDigit) &&
                       std::any_of(user.begin(), user.end(), IsUpper) &&
                       std::any_of(user.begin(), user.end(), IsLower);
    if (!(hex || mixed) || !validate::LooksLikeCredential(user)) return;
    Emit(b, at, Entity::kApiToken);
  }

  // A card written with dots or underscores between its groups (`4111.1111.1111.1111`,
  // `4111_1111_1111_1111`): the whole run around `to`, one separator throughout, in a card's
  // grouping (4-4-4-4 with up to three more digits, or Amex/Diners 4-6-5, 4-6-4), Luhn over
  // all of it. Decimals and versions have other groupings. True if it emitted one.
  bool SeparatedCard(uint32_t to, uint32_t* skip_until) {
    auto part = [](unsigned char c) { return IsDigit(c) || c == '.' || c == '_'; };
    uint32_t b = to, e = to;
    while (b > v_.seg_start && to - b < 25 && part(v_.at(b - 1))) --b;
    while (e < v_.seg_end && e - b < 25 && part(v_.at(e))) ++e;
    if (b >= e || !IsDigit(v_.at(b)) || !IsDigit(v_.at(e - 1)) || e - b > 24) return false;
    if (IsAlpha(v_.at(static_cast<int64_t>(b) - 1)) || IsAlpha(v_.at(e))) return false;
    char digits[24];
    uint32_t len[8];
    size_t nd = 0;
    int k = 0;
    unsigned char sep = 0;
    for (uint32_t i = b; i < e;) {
      uint32_t j = i;
      while (j < e && IsDigit(v_.at(j))) ++j;
      if (j == i || k == 8) return false;  // two separators in a row
      std::memcpy(digits + nd, v_.p + i, j - i);
      nd += j - i;
      len[k++] = j - i;
      if (j < e) {
        if (sep == 0) sep = v_.at(j);
        if (v_.at(j) != sep) return false;
      }
      i = j + 1;
    }
    bool shaped = false;
    if (k >= 4 && k <= 5) {
      shaped = len[k - 1] >= 1 && len[k - 1] <= 4 && (k == 5 || len[3] == 4);
      for (int g = 0; g < 4 && g < k - 1; ++g) shaped = shaped && len[g] == 4;
      if (k == 5) shaped = shaped && len[4] <= 3;
    } else if (k == 3) {
      shaped = len[0] == 4 && len[1] == 6 && (len[2] == 5 || len[2] == 4);
    }
    if (!shaped || nd < 13 || !validate::CreditCard(std::string_view(digits, nd))) return false;
    Emit(b, e, Entity::kCreditCard);
    CvvAfterCard(e);
    *skip_until = e;
    return true;
  }

  // A card's security code written after the card on its line (`… exp 12/27 cvv 123`): the
  // keyword stage sees a 3-digit value only after ':' or '='.
  void CvvAfterCard(uint32_t e) {
    uint32_t end = e;
    while (end < v_.seg_end && end - e < 48 && v_.at(end) != '\n') ++end;
    const std::string_view rest = v_.sub(e, end);
    // American Express calls its code the CID; some processors the CVN.
    for (std::string_view w :
         {std::string_view("cvv"), std::string_view("cvc"), std::string_view("csc"),
          std::string_view("cid"), std::string_view("cvn"), std::string_view("security code")}) {
      size_t at = 0;
      for (size_t i = 0; i + w.size() <= rest.size() && at == 0; ++i)
        if (EqualsLower(rest.substr(i, w.size()), w) && (i == 0 || !IsAlnum(rest[i - 1])))
          at = i + w.size();
      if (at == 0) continue;
      uint32_t p = e + static_cast<uint32_t>(at);
      if (v_.at(p) == '2') ++p;  // CVV2
      while (p < end && (v_.at(p) == ' ' || v_.at(p) == ':' || v_.at(p) == '=' || v_.at(p) == '#'))
        ++p;
      uint32_t q = p;
      while (q < end && IsDigit(v_.at(q))) ++q;
      if ((q - p == 3 || q - p == 4) && !IsAlnum(v_.at(q)) && v_.at(q) != '/')
        Emit(p, q, Entity::kCardCvv);
      return;
    }
  }

  // A token run from b that may be a card written with underscores.
  void UnderscoredCard(uint32_t b) {
    if (v_.at(b + 4) != '_') return;
    uint32_t skip = 0;
    SeparatedCard(b + 1, &skip);
  }

  // Digit groups around `to` separated by single spaces or dashes: the card inside them.
  void CardRun(uint32_t to, uint32_t* skip_until) {
    if (to <= *skip_until) return;
    uint32_t b = to, e = to;
    while (b > v_.seg_start) {
      unsigned char c = v_.at(b - 1);
      if (IsDigit(c) || ((c == ' ' || c == '-') && IsDigit(v_.at(b - 2)) && IsDigit(v_.at(b))))
        --b;
      else
        break;
    }
    while (e < v_.seg_end) {
      unsigned char c = v_.at(e);
      if (IsDigit(c) || ((c == ' ' || c == '-') && IsDigit(v_.at(e + 1)) && IsDigit(v_.at(e - 1))))
        ++e;
      else
        break;
    }
    auto dotted = [&](int64_t i, int64_t digit) {
      return (v_.at(i) == '.' || v_.at(i) == '_') && IsDigit(v_.at(digit));
    };
    if ((dotted(e, e + 1) || dotted(int64_t{b} - 1, int64_t{b} - 2)) &&
        SeparatedCard(to, skip_until))
      return;
    *skip_until = e;
    if (IsAlpha(v_.at(static_cast<int64_t>(b) - 1)) || IsAlpha(v_.at(e))) return;
    if (v_.at(static_cast<int64_t>(b) - 1) == '.' || (v_.at(e) == '.' && IsDigit(v_.at(e + 1))))
      return;  // a decimal or dotted number
    if (v_.at(static_cast<int64_t>(b) - 1) == ' ' && b >= v_.seg_start + 5) {
      // Preceded by a 4-character group holding a letter: the tail of an IBAN-style number.
      bool letter = false;
      bool group = b - 5 == v_.seg_start || v_.at(static_cast<int64_t>(b) - 6) == ' ';
      for (uint32_t k = b - 5; k < b - 1; ++k) {
        group = group && (IsUpper(v_.at(k)) || IsDigit(v_.at(k)));
        letter = letter || IsUpper(v_.at(k));
      }
      if (group && letter) return;
    }
    struct Group {
      uint32_t b, e;
    };
    Group g[16];
    int n = 0;
    for (uint32_t i = b; i < e && n < 16;) {
      uint32_t j = i;
      while (j < e && IsDigit(v_.at(j))) ++j;
      g[n++] = {i, j};
      i = j + 1;
    }
    for (int i = 0; i < n; ++i) {
      char digits[24];
      size_t nd = 0;
      unsigned char sep = 0;
      int best = -1, unbranded = -1;
      for (int j = i; j < n; ++j) {
        if (j > i) {
          // One separator throughout; spaces and dashes may mix in four groups of four digits
          // ("4111-1111 1111-1111"), not to take in a number after a card ("… 1111 302").
          unsigned char s = v_.at(g[j].b - 1);
          if (sep == 0) sep = s;
          bool fours = j - i < 4 && (s == ' ' || s == '-') && (sep == ' ' || sep == '-');
          for (int q = i; q <= j; ++q) fours = fours && g[q].e - g[q].b == 4;
          if (s != sep && !fours) break;
        }
        uint32_t len = g[j].e - g[j].b;
        if (nd + len > 19) break;
        std::memcpy(digits + nd, v_.p + g[j].b, len);
        nd += len;
        const std::string_view d(digits, nd);
        if (nd >= 13 && validate::CreditCard(d))
          best = j;
        else if (nd >= 14 && nd <= 16 && (nd > 14 || j > i) && validate::Luhn(d) &&
                 d.find_first_not_of(d[0]) != d.npos)
          unbranded = j;
      }
      if (best >= 0) {
        Emit(g[i].b, g[best].e, Entity::kCreditCard);
        CvvAfterCard(g[best].e);
        i = best;
      } else if (unbranded >= 0) {
        // 15 or 16 digits, or 14 in groups, Luhn holds, but no network issues the prefix (test
        // data, generators, private-label and fleet cards): a card only where card words are near
        // (0.4 + 0.15). Not 13 digits: a millisecond timestamp passes Luhn one time in ten.
        Emit(g[i].b, g[unbranded].e, Entity::kCreditCard, kUnbrandedCardScore);
        i = unbranded;
      }
    }
  }

  void SsnDashed(uint32_t to) {
    const uint32_t b = to - 11;
    char d[9];
    std::memcpy(d, v_.p + b, 3);
    std::memcpy(d + 3, v_.p + b + 4, 2);
    std::memcpy(d + 5, v_.p + b + 7, 4);
    std::string_view digits(d, 9);
    const int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    if (validate::UsItin(digits))
      Emit(b, to, Entity::kUsItin);
    else if (area != 0 && area != 666 && area < 900)
      // Written as SSNs are, in an area the SSA assigns: one, issued or not. The published
      // numbers (078-05-1120, 219-09-9999, 123-45-6789) were filed by thousands of people as
      // their own, and a group 00 or serial 0000 is a typo or a test value away from a real one.
      Emit(b, to, Entity::kUsSsn);
    else
      // An area never assigned (000, 666, 9xx that is no ITIN): test data, part numbers. Shape
      // first: kept when SSN words are near (0.45 + 0.15), dropped otherwise.
      Emit(b, to, Entity::kUsSsn, kUnissuedSsnScore);
  }

  // A phone number starting at or before `to`; libphonenumber validates.
  void Phone(uint32_t to, uint32_t* skip_until) {
    if (to <= *skip_until) return;
    // Walk back to the start: '+', '(' or the first digit of the match.
    uint32_t b = to;
    for (uint32_t i = to; i > v_.seg_start && to - i < 16; --i) {
      unsigned char c = v_.at(i - 1);
      if (c == '+' || c == '(') {
        b = i - 1;
        if (c == '(' && v_.at(static_cast<int64_t>(b) - 1) == ' ' &&
            v_.at(static_cast<int64_t>(b) - 2) == '1' && v_.at(static_cast<int64_t>(b) - 3) == '+')
          b -= 3;
        break;
      }
      if (IsDigit(c) || c == ' ' || c == '-' || c == '.' || c == ')')
        b = i - 1;
      else
        break;
    }
    while (b < to && !IsDigit(v_.at(b)) && v_.at(b) != '+' && v_.at(b) != '(') ++b;
    if (IsWord(v_.at(static_cast<int64_t>(b) - 1))) return;
    PhoneFrom(b, Entity::kPhone, catalog::Info(Entity::kPhone).base_score, skip_until);
  }

  // Reads a phone number from b forward; emits it if libphonenumber accepts it.
  bool PhoneFrom(uint32_t b, Entity entity, float score, uint32_t* skip_until) {
    uint32_t e = b, digits = 0, last_digit_end = b;
    uint32_t group_ends[12];
    int ng = 0;
    while (e < v_.seg_end && digits <= 15) {
      unsigned char c = v_.at(e);
      if (IsDigit(c)) {
        ++digits;
        ++e;
        last_digit_end = e;
        continue;
      }
      bool sep = c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
      if (!sep) break;
      if (c == '+' && e != b) break;
      if (e > b && !IsDigit(v_.at(e - 1)) && c != '(' && v_.at(e - 1) != ')' && v_.at(e - 1) != '+')
        break;  // two separators in a row
      if (e > b && IsDigit(v_.at(e - 1)) && ng < 12) group_ends[ng++] = e;
      ++e;
    }
    if (skip_until) *skip_until = last_digit_end;
    e = last_digit_end;
    if (digits < 7 || digits > 15 || IsWord(v_.at(e))) return false;
    if (v_.at(e) == '.' && IsDigit(v_.at(e + 1))) return false;
    // Try the whole run, then without trailing groups (a number followed by another one).
    for (int k = ng; k >= 0; --k) {
      std::string_view s = v_.sub(b, e);
      if (validate::Phone(s)) {
        Emit(b, e, entity, score);
        return true;
      }
      if (k == 0) break;
      e = group_ends[k - 1];
      if (e <= b) break;
    }
    return false;
  }

  void SpacedTen(uint32_t to) {
    const uint32_t b = to - 12;
    if (v_.at(static_cast<int64_t>(b) - 1) == ' ') {  // "+1 813 394 4163": a phone, not NHS
      int64_t k = static_cast<int64_t>(b) - 2;
      while (k >= v_.seg_start && IsDigit(v_.at(k)) && b - k < 6) --k;
      if (v_.at(k) == '+') return;
    }
    char d[10];
    std::memcpy(d, v_.p + b, 3);
    std::memcpy(d + 3, v_.p + b + 4, 3);
    std::memcpy(d + 6, v_.p + b + 8, 4);
    // A passing mod-11 check digit is evidence (1 in 11 by chance): it outranks the phone
    // shape even with a phone word nearby.
    bool nhs = validate::UkNhs(std::string_view(d, 10));
    if (nhs) Emit(b, to, Entity::kUkNhs, 0.9f);
    // Shape first: 3-3-4 spaced is a phone; a valid NHS number (mod 11) outranks an unvalidated
    // one.
    Emit(b, to, Entity::kPhone, validate::Phone(v_.sub(b, to)) ? (nhs ? 0.65f : 0.7f) : 0.6f);
  }

  // An IBAN starting at b (two letters, two check digits), compact or grouped by four.
  // An IBAN starting at b and reaching at least min_end: emitted, its end in *end.
  bool IbanFrom(uint32_t b, uint32_t* end, uint32_t min_end = 0) {
    if (b < v_.seg_start) return false;
    // Grouped by fours with spaces, or (less often) dashes or dots: DE89-3704-0044-…
    const unsigned char gs = v_.at(b + 4);
    const bool grouped = gs == ' ' || gs == '-' || gs == '.';
    // Typed in lower case ("iban de89 3704 …"): the whole IBAN is, country code included.
    const bool lower = IsLower(v_.at(b)) && IsLower(v_.at(b + 1));
    char compact[34];
    uint32_t pos[34];
    int n = 0;
    for (uint32_t i = b; i < v_.seg_end && n < 34; ++i) {
      unsigned char c = v_.at(i);
      if (IsUpper(c) || IsDigit(c) || (lower && IsLower(c))) {
        compact[n] = static_cast<char>(IsLower(c) ? c - 32 : c);
        pos[n++] = i;
      } else if (c == gs && grouped && IsAlnum(v_.at(i + 1)) && IsAlnum(v_.at(i - 1))) {
        continue;
      } else {
        break;
      }
    }
    for (int len = n; len >= 15; --len) {
      uint32_t e = pos[len - 1] + 1;
      if (e < min_end) break;           // it would not hold the number the caller is at
      if (IsAlnum(v_.at(e))) continue;  // must end at a word boundary
      if (validate::Iban(std::string_view(compact, len))) {
        Emit(b, e, Entity::kIban);
        *end = e;
        return true;
      }
    }
    return false;
  }

  // Whether `nino`, `national insurance` or `NI number`/`NI no` comes up to 40 bytes before `b`
  // on its line.
  bool NinoLabelBefore(uint32_t b) const {
    uint32_t s = b;
    while (s > v_.seg_start && b - s < 40 && v_.at(s - 1) != '\n') --s;
    const std::string_view before = v_.sub(s, b);
    return ContainsIgnoreCase(before, "nino") || ContainsIgnoreCase(before, "insurance") ||
           ContainsIgnoreCase(before, "ni number") || ContainsIgnoreCase(before, "ni no");
  }

  void Nino(uint32_t to) {
    // Back over six digits (and up to three spaces), an optional space, two letters.
    int64_t i = to;
    int digits = 0;
    while (i > v_.seg_start && digits < 6) {
      unsigned char c = v_.at(i - 1);
      if (IsDigit(c))
        ++digits;
      else if (c != ' ')
        return;
      --i;
    }
    if (v_.at(i - 1) == ' ') --i;
    if (i - 2 < v_.seg_start) return;
    uint32_t b = static_cast<uint32_t>(i - 2);
    char compact[9];
    int n = 0;
    for (uint32_t k = b; k < to; ++k)
      if (v_.at(k) != ' ') compact[n++] = static_cast<char>(v_.at(k));
    uint32_t e = to;
    unsigned char s = v_.at(e);
    uint32_t sfx = e;
    if (s == ' ') s = v_.at(++sfx);
    if (!(s >= 'A' && s <= 'D') || IsAlnum(v_.at(sfx + 1))) return;  // the suffix letter
    compact[n++] = static_cast<char>(s);
    e = sfx + 1;
    const uint32_t spaces = (e - b) - 9;
    // AB123456C, AB 12 34 56 C, AB 12 34 56C, and AB 123456 C (two spaces: after the letters
    // and before the suffix).
    const bool two = spaces == 2 && v_.at(b + 2) == ' ' && sfx == to + 1;
    if (spaces != 0 && spaces != 4 && !(spaces == 3 && sfx == to) && !two) return;
    // A prefix HMRC never issues (its own example `QQ`) is still the number its label names.
    if (!validate::UkNino(std::string_view(compact, n)) &&
        !(IsUpper(v_.at(b)) && IsUpper(v_.at(b + 1)) && NinoLabelBefore(b)))
      return;
    Emit(b, e, Entity::kUkNino);
  }

  void Ipv4(uint32_t to) {
    uint32_t b = to;
    while (b > v_.seg_start && (IsDigit(v_.at(b - 1)) || v_.at(b - 1) == '.')) --b;
    uint32_t e = to;
    while (e < v_.seg_end && (IsDigit(v_.at(e)) || (v_.at(e) == '.' && IsDigit(v_.at(e + 1))))) ++e;
    std::string_view s = v_.sub(b, e);
    if (std::count(s.begin(), s.end(), '.') != 3) return;
    unsigned char before = v_.at(static_cast<int64_t>(b) - 1);
    if (before == 'v' || before == 'V' || IsAlnum(before) || IsAlnum(v_.at(e))) return;
    if (validate::IpV4(s)) Emit(b, e, Entity::kIpAddress);
  }

  void Ipv6(uint32_t to, uint32_t* skip_until) {
    if (to <= *skip_until) return;
    auto cls = [](unsigned char c) { return IsHex(c) || c == ':' || c == '.'; };
    uint32_t b = to;
    while (b > v_.seg_start && cls(v_.at(b - 1))) --b;
    uint32_t e = to;
    while (e < v_.seg_end && cls(v_.at(e))) ++e;
    *skip_until = e;
    while (e > b && v_.at(e - 1) == '.') --e;
    if (e - b >= 2 && v_.at(e - 1) == ':' && v_.at(e - 2) != ':') --e;
    if (IsWord(v_.at(static_cast<int64_t>(b) - 1)) || IsWord(v_.at(e))) return;
    std::string_view s = v_.sub(b, e);
    if (std::count(s.begin(), s.end(), ':') < 2) return;
    if (validate::IpV6(s)) Emit(b, e, Entity::kIpAddress);
  }

  void Mac(const PatternSpec& ps, uint32_t to) {
    uint32_t b = to - ps.core_len;
    // One more group on either side (`4111.1111.1111.1112`, a 4-part version): not a MAC.
    const unsigned char sep = v_.at(to - (ps.core_len == 14 ? 5 : 3));
    if ((v_.at(to) == sep && IsHex(v_.at(to + 1))) ||
        (v_.at(static_cast<int64_t>(b) - 1) == sep && IsHex(v_.at(static_cast<int64_t>(b) - 2))))
      return;
    if (validate::MacAddress(v_.sub(b, to))) Emit(b, to, Entity::kMacAddress);
  }

  void Street(uint32_t to) {
    // Back over the suffix, then up to four capitalised words, to the house number.
    int64_t i = to;
    while (i > v_.seg_start && IsAlpha(v_.at(i - 1))) --i;
    uint32_t b = 0;
    bool comma = false;
    for (int words = 0; words < 5; ++words) {
      if (v_.at(i - 1) != ' ') return;
      --i;
      // "86, Basanti Society", "59, Persiaran Kuching": the house number with a comma after it,
      // as India and Malaysia write it; not a year ("Copyright 1997, Thomas G. Lane").
      if (words > 0 && v_.at(i - 1) == ',' && IsDigit(v_.at(i - 2))) {
        --i;
        comma = true;
      }
      int64_t w = i;
      while (w > v_.seg_start &&
             (IsAlnum(v_.at(w - 1)) || v_.at(w - 1) == '\'' || v_.at(w - 1) == '-' ||
              v_.at(w - 1) == '.' || v_.at(w - 1) >= 0x80))
        --w;
      // Quotes and dashes inside a word (O'Brien), not before it ('723 Main Street').
      while (w < i && (v_.at(w) == '\'' || v_.at(w) == '-' || v_.at(w) == '.')) ++w;
      // A house number, with one letter after it as Britain and Europe write them ("221B Baker
      // Street", "12a High Street"). The prefilter opens a letters window for such a line only
      // when something else on it asks for one: a trigger of its own measured 8% on dense text,
      // where every ISO timestamp's "123Z INFO" has that shape.
      const int64_t last = i - w >= 2 && IsAlpha(v_.at(i - 1)) && IsDigit(v_.at(i - 2)) ? i - 1 : i;
      bool number = w < last && last - w <= 6;
      for (int64_t k = w; k < last; ++k) number = number && IsDigit(v_.at(k));
      if (number) {
        b = static_cast<uint32_t>(w);
        break;
      }
      // Street names are capitalised words, or ordinals ("8th", "21st").
      bool ordinal = w < i && IsDigit(v_.at(w)) && i - w >= 3 && i - w <= 5 &&
                     IsLower(v_.at(i - 1)) && IsLower(v_.at(i - 2));
      for (int64_t k = w; ordinal && k < i - 2; ++k) ordinal = IsDigit(v_.at(k));
      // A word of another alphabet names a street too ("289 Кесьов Heights", "28967 Bērziņš
      // Ville", "060 斉藤 Street"): its first letter, capital or of a script without capitals.
      bool other = false;
      if (v_.at(w) >= 0xC3) {
        const letters::Letter l = LetterAt(static_cast<uint32_t>(w));
        other = l.len && (l.upper || l.script == letters::Script::kOther);
      }
      if (w == i || !(IsUpper(v_.at(w)) || ordinal || other)) return;
      i = w;
    }
    if (b == 0 && !IsDigit(v_.at(0))) return;
    if (comma && IsDigit(v_.at(b + 3)) && (v_.at(b) == '1' || v_.at(b) == '2')) return;
    // A lone 0 is no house number; "061 Buckridge Loop" (zero-padded, as some generators and
    // systems write them) is one.
    if (v_.at(b) == '0' && !IsDigit(v_.at(b + 1))) return;
    // A flat's number or letter before the house's, as Australia, New Zealand and India write
    // them ("2/1 Griffiths Mount", "A/20A Marie St").
    if (v_.at(static_cast<int64_t>(b) - 1) == '/') {
      int64_t f = static_cast<int64_t>(b) - 1;
      while (f > v_.seg_start && b - f <= 4 && IsAlnum(v_.at(f - 1))) --f;
      if (f < static_cast<int64_t>(b) - 1 && b - f <= 4 && !IsAlnum(v_.at(f - 1)) &&
          v_.at(f - 1) != '/')
        b = static_cast<uint32_t>(f);
    }
    // Glued to a word, or an issue's or a line's number ("#2560 Link error", "L12 Main Street").
    const unsigned char lead = v_.at(static_cast<int64_t>(b) - 1);
    if (IsAlnum(lead) || lead == '#' || lead == '+' || lead == '-' || lead == '.') return;
    uint32_t e = to;
    if (v_.at(e) == '.') ++e;
    // Singapore numbers its avenues and streets ("3 Jurong West Ave 455", "2 Sembawang Ave 2"):
    // a number of one to three digits after the street type, where the address ends.
    if (v_.at(e) == ' ' && IsDigit(v_.at(e + 1))) {
      uint32_t k = e + 1;
      while (k < v_.seg_end && IsDigit(v_.at(k)) && k - e <= 3) ++k;
      const unsigned char n = v_.at(k);
      if (k - e <= 4 && (k >= v_.seg_end || n == ',' || n == ';' || n == '\t' || n == '"' ||
                         n == ')' || n == '\n' || (n == ' ' && IsUpper(v_.at(k + 1)))))
        e = k;
    }
    // Optional units: ", Apt 5", " Suite 200", " #12", " Unit 3B", " Level 6", " 3 étage".
    uint32_t u = e;
    if (v_.at(u) == ',') ++u;
    if (v_.at(u) == ' ' && v_.at(u + 1) == '#') {
      uint32_t k = u + 2;
      while (k < v_.seg_end && (IsAlnum(v_.at(k)) || v_.at(k) == '-')) ++k;
      if (k > u + 2 && k - u - 2 <= 6) e = k;
    }
    Emit(b, UnitsAfter(e), Entity::kStreetAddress);
  }

  // Streets as other countries write them: the name before the house number ("Hauptstraße 5",
  // "Calle Mayor, 10", "Via Roma 15", "ul. Marszałkowska 84/92", "Bruņinieku iela 67"), or
  // after it ("12 rue de la Paix", "975 Rua Samuel"); with the postcode and city that follow
  // ("…, 10115 Berlin").
  void HouseNumberAt(uint32_t pos, uint32_t* skip_until) {
    if (pos < *skip_until) return;
    uint32_t e = pos;
    while (e < v_.seg_end && IsDigit(v_.at(e)) && e - pos < 5) ++e;
    const uint32_t digits = e - pos;
    // Colombia's older cédulas have six digits, which open no keyword window: read here, where
    // a number after a word comes ("cédula 159499").
    if (digits > 4 && pos > v_.seg_start + 1 && v_.at(pos - 1) == ' ' &&
        EndsWithWord(pos - 1, {"c\xC3\xA9"
                               "dula",
                               "cedula"}))
      return NationalIdAfterKeyword(pos);
    if (digits > 4 || (v_.at(pos) == '0' && digits == 1)) return;
    auto suffix = [&](uint32_t k) {  // "92a", "5B": one letter, then no more
      return IsAlpha(v_.at(k)) && !IsAlnum(v_.at(k + 1)) ? k + 1 : k;
    };
    e = suffix(e);
    if ((v_.at(e) == '/' || v_.at(e) == '-') && IsDigit(v_.at(e + 1))) {  // "84/92", "3-5"
      uint32_t k = e + 1;
      while (k < v_.seg_end && IsDigit(v_.at(k)) && k - e <= 4) ++k;
      if (!IsDigit(v_.at(k))) e = suffix(k);
    }
    // 5.5, 10:30, 3,50 and glued letters are no house numbers.
    if (IsAlnum(v_.at(e)) ||
        ((v_.at(e) == '.' || v_.at(e) == ':' || v_.at(e) == ',') && IsDigit(v_.at(e + 1))))
      return;
    // A repeated number: "12 bis", "38 TER", "4 QUATER".
    for (std::string_view rep :
         {std::string_view(" bis"), std::string_view(" ter"), std::string_view(" quater")})
      if (e + rep.size() <= v_.seg_end && EqualsLower(v_.sub(e, e + rep.size()), rep) &&
          !IsAlpha(v_.at(e + rep.size())))
        e += rep.size();
    // Where the number ends the phrase ("via Roma 15, …"), not a count ("via Google 3 times").
    const unsigned char next = v_.at(e);
    const bool terminal = e >= v_.seg_end || next == ',' || next == ';' || next == ')' ||
                          next == '"' || next == '\'' || next == '.' || next == '\n' ||
                          next == '\t' || (next == ' ' && v_.at(e + 1) == '(');
    uint32_t b = kNoStreet;
    // Name first; a four-digit number from 1000 to 2999 there is a year more often.
    if (pos > v_.seg_start + 1 && v_.at(pos - 1) == ' ' &&
        !(digits == 4 && (v_.at(pos) == '1' || v_.at(pos) == '2'))) {
      b = StreetNameBefore(pos - 1, terminal);
      if (b == kNoStreet && terminal) b = PrepositionStreetBefore(pos - 1);
    }
    if (b == kNoStreet) {
      uint32_t f = StreetAfterNumber(e);
      // … or its letter apart: "2881 B rue Julie Diaz", "7 T, av Maryse Jacquet".
      if (f == 0 && v_.at(e) == ' ' && IsUpper(v_.at(e + 1)) &&
          (v_.at(e + 2) == ' ' || v_.at(e + 2) == ','))
        f = StreetAfterNumber(e + 2);
      if (f == 0) return;
      b = pos;
      e = f;
    }
    e = PostcodeCityAfter(UnitsAfter(e));
    *skip_until = e;
    // A street word and a number: stronger than the person's name a street is often named
    // after ("Largo Camões 571"), which would otherwise win the overlap and leave the number.
    Emit(b, e, Entity::kStreetAddress, 0.9f);
  }

  static constexpr uint32_t kNoStreet = ~0u;
  // Words that name a unit of a building, not a street ("Oak Avenue Suite 685").
  static constexpr std::string_view kUnitWords[] = {"suite", "ste",  "apt",     "apartment", "unit",
                                                    "flat",  "fl",   "floor",   "room",      "rm",
                                                    "box",   "bldg", "building"};

  // w, or the word before it if that says which part of the street it is ("Östra
  // Idrottsvägen 50", "Søndre Fossestykket 3", "Vestre Geiteryggmyra 2").
  uint32_t WithDirection(uint32_t w) const {
    if (w < v_.seg_start + 2 || v_.at(w - 1) != ' ') return w;
    const uint32_t p = WordStart(w - 1);
    char buf[32];
    static constexpr std::string_view kWords[] = {
        "\xC3\xB6vre", "nedre", "undre", "\xC3\xB6stra", "v\xC3\xA4stra", "norra",
        "s\xC3\xB6"
        "dra",
        "stora", "lilla", "vestre", "\xC3\xB8stre", "nordre",
        "s\xC3\xB8"
        "ndre",
        "\xC3\xB8vre", "store", "lille", "obere", "untere", "alte", "neue",
        "gro\xC3\x9F"
        "e",
        "kleine",
        // Capitals beyond ASCII are not folded: Övre, Östra, Østre, Øvre.
        "\xC3\x96vre", "\xC3\x96stra", "\xC3\x98stre", "\xC3\x98vre"};
    return p < w - 1 && Capitalised(p) && OneOf(Folded(p, w - 1, buf, sizeof(buf)), kWords) ? p : w;
  }

  // Whether the word before w is a street word that leads a name ("ul. Marszałkowska").
  bool StreetWordBefore(uint32_t w) const {
    if (w < v_.seg_start + 2 || v_.at(w - 1) != ' ') return false;
    const uint32_t p = WordStart(w - 1);
    char buf[32];
    const std::string_view lw = Folded(p, w - 1, buf, sizeof(buf));
    return !lw.empty() && LeadingStreetWord(lw);
  }

  bool NonAscii(uint32_t b, uint32_t e) const {
    for (uint32_t k = b; k < e; ++k)
      if (v_.at(k) >= 0x80) return true;
    return false;
  }

  // A folded word shaped as a Czech, Slovak or Croatian street's name on its own: a feminine
  // adjective (-ská, -cká, -ová, -ička), a possessive (-ova, -ina, -ića, Slovak -ho). With a
  // letter beyond ASCII in it; without one only -ska, -ova, -ovo of 7+ letters that are no
  // place or name of the English-speaking world (Nebraska, Casanova, Villanova).
  static bool SlavicStreetName(std::string_view lw) {
    static constexpr std::string_view kMarked[] = {"sk\xC3\xA1",
                                                   "ck\xC3\xA1",
                                                   "ov\xC3\xA1",
                                                   "n\xC3\xA1",
                                                   "\xC4\x8Dka",
                                                   "\xC5\xA1ka",
                                                   "i\xC4\x87"
                                                   "a",
                                                   "i\xC4\x87"
                                                   "eva",
                                                   "ova",
                                                   "owa",
                                                   "ovo",
                                                   "eva",
                                                   "ina",
                                                   "ska",
                                                   "ho",
                                                   "n\xC3\xAD",
                                                   "ny",
                                                   "na"};
    static constexpr std::string_view kPlain[] = {"ska", "ova", "ovo", "owa"};
    static constexpr std::string_view kNot[] = {"nebraska", "casanova", "villanova", "supernova",
                                                "mendocino"};
    if (lw.size() < 5) return false;
    const bool marked = std::any_of(lw.begin(), lw.end(),
                                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    if (marked)
      return std::any_of(std::begin(kMarked), std::end(kMarked),
                         [&](std::string_view e) { return lw.ends_with(e); });
    return lw.size() >= 7 && !OneOf(lw, kNot) &&
           std::any_of(std::begin(kPlain), std::end(kPlain),
                       [&](std::string_view e) { return lw.ends_with(e); });
  }

  // The word that ends at i: letters of any script, '.', '-', '\'' and '/' ("C/", "ul.").
  uint32_t WordStart(uint32_t i) const {
    uint32_t w = i;
    while (w > v_.seg_start) {
      const unsigned char c = v_.at(w - 1);
      if (!(IsAlpha(c) || c >= 0x80 || c == '.' || c == '-' || c == '\'' || c == '/')) break;
      --w;
    }
    // An apostrophe inside a word is its own (O'Brien, d'Italia); one before it opens a quoted
    // string ('Hauptstraße 34' in a Python dict, an SQL literal).
    while (w < i && v_.at(w) == '\'') ++w;
    return w;
  }
  uint32_t WordEnd(uint32_t w) const {
    const uint32_t b = w;
    while (w < v_.seg_end) {
      const unsigned char c = v_.at(w);
      if (!(IsAlpha(c) || c >= 0x80 || c == '-' || c == '\'')) break;
      ++w;
    }
    while (w > b && (v_.at(w - 1) == '\'' || v_.at(w - 1) == '-')) --w;  // a closing quote
    return w;
  }
  bool Capitalised(uint32_t w) const {
    const unsigned char c = v_.at(w);
    return IsUpper(c) || (c >= 0x80 && LetterAt(w).upper);
  }
  // A word that can be part of a street's name: capitalised, or of a script without capitals
  // (Hebrew, Arabic, Thai, Han …), where no case tells a name from any other word.
  bool NameWord(uint32_t w) const {
    if (v_.at(w) < 0x80) return IsUpper(v_.at(w));
    const letters::Letter l = LetterAt(w);
    return l.upper || (l.len && l.script == letters::Script::kOther);
  }
  // [w, i) lower-cased (ASCII letters; UTF-8 bytes as they are), without a final '.'.
  std::string_view Folded(uint32_t w, uint32_t i, char* buf, size_t cap) const {
    if (i > w && v_.at(i - 1) == '.') --i;
    size_t n = 0;
    for (uint32_t k = w; k < i && n < cap; ++k) buf[n++] = Lower(v_.at(k));
    return {buf, i - w <= cap ? n : 0};
  }
  static bool Connector(std::string_view w) {
    static constexpr std::string_view kWords[] = {
        "de",  "del",   "la", "las", "los", "el",  "di",    "della", "delle",
        "dei", "degli", "da", "do",  "dos", "das", "der",   "den",   "van",
        "von", "y",     "e",  "des", "du",  "le",  "les",   "am",    "an",
        "zum", "zur",   "im", "i",   "al",  "st",  "sankt", "nr",    "bloc"};
    return OneOf(w, kWords) || w.starts_with("d'") || w.starts_with("l'");
  }
  // Russian and Ukrainian street words, as written (lower case), before or after the name
  // ("улица Южная, 796", "Железнодорожная улица, 279", "Строителей пл., 616"): улица, ул,
  // площадь, пл, проспект, пр, переулок, пер, шоссе, бульвар, набережная, наб, проезд, аллея,
  // тупик, микрорайон, мкр, вулиця, вул.
  static bool CyrillicStreetWord(std::string_view w) {
    if (w.empty() || (static_cast<unsigned char>(w[0]) & 0xFE) != 0xD0) return false;  // Cyrillic
    static constexpr std::string_view kWords[] = {
        "\xD1\x83\xD0\xBB\xD0\xB8\xD1\x86\xD0\xB0", "\xD1\x83\xD0\xBB",
        "\xD0\xBF\xD0\xBB\xD0\xBE\xD1\x89\xD0\xB0\xD0\xB4\xD1\x8C", "\xD0\xBF\xD0\xBB",
        "\xD0\xBF\xD1\x80\xD0\xBE\xD1\x81\xD0\xBF\xD0\xB5\xD0\xBA\xD1\x82", "\xD0\xBF\xD1\x80",
        "\xD0\xBF\xD0\xB5\xD1\x80\xD0\xB5\xD1\x83\xD0\xBB\xD0\xBE\xD0\xBA",
        "\xD0\xBF\xD0\xB5\xD1\x80", "\xD1\x88\xD0\xBE\xD1\x81\xD1\x81\xD0\xB5",
        "\xD0\xB1\xD1\x83\xD0\xBB\xD1\x8C\xD0\xB2\xD0\xB0\xD1\x80",
        "\xD0\xBD\xD0\xB0\xD0\xB1\xD0\xB5\xD1\x80\xD0\xB5\xD0\xB6\xD0\xBD\xD0\xB0\xD1\x8F",
        // Ukrainian: набережна, провулок, площа
        "\xD0\xBD\xD0\xB0\xD0\xB1\xD0\xB5\xD1\x80\xD0\xB5\xD0\xB6\xD0\xBD\xD0\xB0",
        "\xD0\xBF\xD1\x80\xD0\xBE\xD0\xB2\xD1\x83\xD0\xBB\xD0\xBE\xD0\xBA",
        "\xD0\xBF\xD0\xBB\xD0\xBE\xD1\x89\xD0\xB0", "\xD0\xBD\xD0\xB0\xD0\xB1",
        "\xD0\xBF\xD1\x80\xD0\xBE\xD0\xB5\xD0\xB7\xD0\xB4",
        "\xD0\xB0\xD0\xBB\xD0\xBB\xD0\xB5\xD1\x8F", "\xD1\x82\xD1\x83\xD0\xBF\xD0\xB8\xD0\xBA",
        "\xD0\xBC\xD0\xB8\xD0\xBA\xD1\x80\xD0\xBE\xD1\x80\xD0\xB0\xD0\xB9\xD0\xBE\xD0\xBD",
        "\xD0\xBC\xD0\xBA\xD1\x80", "\xD0\xB2\xD1\x83\xD0\xBB\xD0\xB8\xD1\x86\xD1\x8F",
        "\xD0\xB2\xD1\x83\xD0\xBB",
        // Ukrainian пров. (провулок); Bulgarian бул., булевард, площад
        "\xD0\xBF\xD1\x80\xD0\xBE\xD0\xB2", "\xD0\xB1\xD1\x83\xD0\xBB",
        "\xD0\xB1\xD1\x83\xD0\xBB\xD0\xB5\xD0\xB2\xD0\xB0\xD1\x80\xD0\xB4",
        "\xD0\xBF\xD0\xBB\xD0\xBE\xD1\x89\xD0\xB0\xD0\xB4",
        // Kazakh көше, көшесі (street), даңғылы (avenue)
        "\xD0\xBA\xD3\xA9\xD1\x88\xD0\xB5", "\xD0\xBA\xD3\xA9\xD1\x88\xD0\xB5\xD1\x81\xD1\x96",
        "\xD0\xB4\xD0\xB0\xD2\xA3\xD2\x93\xD1\x8B\xD0\xBB\xD1\x8B"};
    return OneOf(w, kWords);
  }
  static bool LeadingStreetWord(std::string_view w) {
    // A hash set: this runs at most words of a street's candidate window, and the list is
    // long (a linear scan of it was 3% of dense text's instructions).
    static const std::unordered_set<std::string_view> kSet(LeadingStreetWords().begin(),
                                                           LeadingStreetWords().end());
    return kSet.contains(w) || CyrillicStreetWord(w);
  }
  // Words that start a street's name: Calle Mayor, Via Roma, Rua Augusta, ul. Marszałkowska,
  // Rue de la Loi, Bulevardul Unirii; and after a house number, 12 rue de la Paix.
  static std::span<const std::string_view> LeadingStreetWords() {
    static constexpr std::string_view kWords[] = {
        // Indonesian and Malay: Jalan, Jl., Jln., Gang, Gg., Lorong, Kampung
        "jalan", "jl", "jln", "gang", "gg", "lorong", "kampung",
        // Norwegian, Swedish and Danish names that start with their direction ("Søndre
        // Heggebakken 7", "Södra Bäckallén 554", "Øvre Solstranda 3").
        "vestre", "\xC3\xB8stre", "nordre", "s\xC3\xB8ndre", "\xC3\xB8vre", "nedre", "ytre",
        "indre", "norra",
        "s\xC3\xB6"
        "dra",
        "\xC3\xB6stra", "v\xC3\xA4stra", "\xC3\xB6vre", "undre",
        // … capitalised (the fold lowers ASCII only): Østre, Øvre, Östra, Övre.
        "\xC3\x98stre", "\xC3\x98vre", "\xC3\x96stra", "\xC3\x96vre",
        // Spanish, Catalan
        "calle", "c/", "avenida", "avda", "av", "paseo", "plaza", "pza", "carrer", "camino",
        "ronda",
        "traves\xC3\xAD"
        "a",
        "travesia", "jardines", "prolongaci\xC3\xB3n", "glorieta", "urbanizaci\xC3\xB3n",
        "callej\xC3\xB3n", "cuesta", "pasaje", "carretera", "rambla",
        "v\xC3\xAD"
        "a",
        // Italian
        "via", "viale", "piazza", "piazzale", "corso", "largo", "vicolo", "strada", "incrocio",
        "borgo", "contrada", "rotonda", "lungomare", "galleria", "salita", "traversa",
        // Portuguese
        "rua", "travessa",
        "pra\xC3\xA7"
        "a",
        "praca", "alameda", "estrada", "rodovia", "azinhaga", "beco",
        "cal\xC3\xA7"
        "ada",
        "ladeira", "quinta",
        "n\xC3\xBA"
        "cleo",
        "nucleo", "campo", "conjunto", "setor", "vila", "residencial", "parque",
        // Mexico's (faker's es_MX street types)
        "privada", "peatonal", "cerrada", "circuito", "retorno", "andador", "diagonal",
        "continuaci\xC3\xB3n", "corredor", "eje",
        // Polish, Czech, Slovak, Croatian, Romanian
        "ul", "al", "aleja", "pl", "plac", "os", "osiedle", "droga", "bulw", "rondo", "skwer",
        "ulica", "trg", "n\xC3\xA1m\xC4\x9Bst\xC3\xAD",
        "t\xC5\x99\xC3\xAD"
        "da",
        "bulevardul", "aleea", "calea", "intrarea", "splaiul",
        // French
        "rue", "avenue", "boulevard", "bd",
        "chauss\xC3\xA9"
        "e",
        "place", "quai", "passage",
        "all\xC3\xA9"
        "e",
        "allee", "impasse", "chemin", "route", "cours", "voie", "square", "sentier", "esplanade",
        "promenade", "faubourg", "cit\xC3\xA9", "dr\xC3\xA8ve", "parc", "jardin",
        // More Spanish and Catalan, Portuguese (faker's es and pt_PT street types)
        "riera", "pol\xC3\xADgono", "poligono", "arroyo", "edificio", "bajada", "escalinata",
        "explanada", "acceso", "barranco", "barrio", "bulevar",
        "ca\xC3\xB1"
        "ada",
        "partida", "plazuela", "sendero", "subida", "torrente", "avinguda", "passeig", "caminho",
        "jardim", "acesso", "praceta", "rotunda", "viela", "bairro", "urbaniza\xC3\xA7\xC3\xA3o",
        // Catalan (faker's ca street types), Quebec's French (not "rang": "I rang Bob 3 times")
        "cam\xC3\xAD", "barri",
        "pla\xC3\xA7"
        "a",
        "passatge", "travessera", "carrefour", "descente", "cour", "clos",
        "mont\xC3\xA9"
        "e",
        "c\xC3\xB4te", "croissant", "terrasse", "ruelle",
        // Malay: Persiaran, Lebuh, Lebuhraya, Lingkaran, Lengkok, Lengkung, Lingkungan,
        // Pinggiran, Selekoh, Pengkalan, Bulatan, Lintang, Lurah, Laman, Medan, Taman
        "persiaran", "lebuh", "lebuhraya", "lingkaran", "lengkok", "lengkung", "lingkungan",
        "pinggiran", "selekoh", "pengkalan", "bulatan", "lintang", "lurah", "laman", "medan",
        "taman",
        // Latin America: Colonia, Ruta, Bv. (bulevar), Muelle; France: Venelle, Résidence,
        // Grand-route, Villa, Hameau, Sente, Traboule, Rond-point, Rampe, Placette, Pont (not
        // "traverse": "We traverse Europe 3 times"); Catalan and Galician: Polígon, Coll,
        // Baixada, Praza, Rúa
        "colonia", "ruta", "bv", "muelle", "venelle", "r\xC3\xA9sidence", "grand-route", "villa",
        "hameau", "sente", "traboule", "rond-point", "rampe", "placette", "pont", "pol\xC3\xADgon",
        "coll", "baixada", "praza",
        "r\xC3\xBA"
        "a",
        // Hebrew: רחוב, שדרות, דרך, סמטת, כיכר; Arabic: شارع, طريق
        "\xD7\xA8\xD7\x97\xD7\x95\xD7\x91", "\xD7\xA9\xD7\x93\xD7\xA8\xD7\x95\xD7\xAA",
        "\xD7\x93\xD7\xA8\xD7\x9A", "\xD7\xA1\xD7\x9E\xD7\x98\xD7\xAA",
        "\xD7\x9B\xD7\x99\xD7\x9B\xD7\xA8", "\xD8\xB4\xD8\xA7\xD8\xB1\xD8\xB9",
        "\xD8\xB7\xD8\xB1\xD9\x8A\xD9\x82",
        // Persian: خیابان, کوچه, بلوار; Arabic ممر (a passage)
        "\xD8\xAE\xDB\x8C\xD8\xA7\xD8\xA8\xD8\xA7\xD9\x86", "\xDA\xA9\xD9\x88\xDA\x86\xD9\x87",
        "\xD8\xA8\xD9\x84\xD9\x88\xD8\xA7\xD8\xB1", "\xD9\x85\xD9\x85\xD8\xB1",
        // Greek, capitalised and not (the fold lowers ASCII only): Λεωφόρος, Οδός (Όδος),
        // Πλατεία, and Λεωφ., Οδ.
        "\xCE\x9B\xCE\xB5\xCF\x89\xCF\x86\xCF\x8C\xCF\x81\xCE\xBF\xCF\x82",
        "\xCE\xBB\xCE\xB5\xCF\x89\xCF\x86\xCF\x8C\xCF\x81\xCE\xBF\xCF\x82",
        "\xCE\x9F\xCE\xB4\xCF\x8C\xCF\x82", "\xCE\xBF\xCE\xB4\xCF\x8C\xCF\x82",
        "\xCE\x8C\xCE\xB4\xCE\xBF\xCF\x82",
        "\xCE\xA0\xCE\xBB\xCE\xB1\xCF\x84\xCE\xB5\xCE\xAF\xCE\xB1",
        "\xCF\x80\xCE\xBB\xCE\xB1\xCF\x84\xCE\xB5\xCE\xAF\xCE\xB1",
        "\xCE\x9B\xCE\xB5\xCF\x89\xCF\x86", "\xCE\x9F\xCE\xB4", "autoroute",
        // More Polish
        "park", "wyb", "pasa\xC5\xBC",
        "zau\xC5\x82"
        "ek",
        "bulwar",
        "ogr\xC3\xB3"
        "d",
        "szosa", "rynek",
        "wybrze\xC5\xBC"
        "e"};
    return kWords;
  }

  // Words that end a street's name in compounds (Hauptstraße, Kerkstraat, Drottninggatan,
  // Mannerheimintie), after at least three letters of the name.
  static constexpr std::string_view kCompound[] = {
      "stra\xC3\x9F"
      "e",
      "strasse", "str", "weg", "allee", "gasse", "platz", "damm", "ufer", "chaussee", "steig",
      "pfad", "graben", "straat", "laan", "plein", "gracht", "kade", "singel", "dijk", "steeg",
      "dreef", "park", "gatan", "v\xC3\xA4gen", "gr\xC3\xA4nd", "gr\xC3\xA4nden", "stigen", "gata",
      "vej", "gade", "v\xC3\xA6nget",
      "str\xC3\xA6"
      "de",
      "plads", "veien", "vegen", "tie", "katu", "kuja", "polku", "linja", "kaari", "ranta", "aukio",
      // Norwegian and Dutch names of places that streets take ("Nielsenengen 8",
      // "Ahmedjordet 31"; not "-ring" or "-pad": "STRING, 8", "ThinkPad 560").
      "bakken", "jordet", "moen", "lunden", "flata", "bulevardi", "torget", "engen", "tunet",
      "svingen", "stien", "kroken", "ringen", "plassen", "haugen", "vollen", "grenda", "hof",
      "markt", "erf", "raitti", "penger", "rinne", "tanhua", "utca", "ulica", "g\xC3\xA4rdet",
      "br\xC3\xBC"
      "cke",
      "sgate", "sgata", "baan", "vegur", "st\xC3\xADgur", "braut",
      // Danish names of places that streets take ("Vintoften 83", "Søkrogen 9").
      "toften", "krogen", "vangen", "haven", "parken", "marken", "krattet", "skr\xC3\xA6nten",
      "str\xC3\xB8get"};
  // The start of a street's name that ends at the space `i` before its house number, or
  // kNoStreet. A street word in lower case ("via Roma 15") counts only where the number ends
  // the phrase: "sent via Google 3 times" is no address.
  uint32_t StreetNameBefore(uint32_t i, bool terminal) const {
    // Words that end one as a word of their own (Berliner Straße, Bruņinieku iela, Matss Väg).
    static constexpr std::string_view kTrailing[] = {
        "stra\xC3\x9F"
        "e",
        "strasse", "str", "allee", "platz", "weg", "gasse", "iela", "ulica", "dambis",
        "g\xC4\x81te", "prospekts", "bulv\xC4\x81ris", "v\xC3\xA4g", "vej", "gade", "gate", "vei",
        "veien", "gata", "gatan", "v\xC3\xA4gen", "utca", "\xC3\xBAt", "cesta", "n\xC3\xA1mestie",
        "n\xC3\xA1m\xC4\x9Bst\xC3\xAD",
        "n\xC3\xA1"
        "b\xC5\x99"
        "e\xC5\xBE\xC3\xAD",
        "n\xC3\xA1"
        "bre\xC5\xBEie",
        "schody", "gatve", "laukums", "\xC5\xA1oseja",
        // Hungarian
        "t\xC3\xA9r", "sor", "k\xC3\xB6z", "k\xC3\xB6r\xC3\xBAt", "s\xC3\xA9t\xC3\xA1ny", "fasor",
        "rakpart", "park", "liget", "udvar", "sug\xC3\xA1r\xC3\xBAt", "l\xC3\xA9pcs\xC5\x91",
        "d\xC5\xB1l\xC5\x91", "lejt\xC5\x91",
        // Turkish: Sokak, Sokağı, Caddesi, Cadde, Bulvarı, Yolu, Cad., Sk., Sok.
        "sokak", "soka\xC4\x9F\xC4\xB1", "caddesi", "cadde", "bulvar\xC4\xB1", "yolu", "cad", "sk",
        "sok",
        // Estonian: tee, maantee, puiestee, tänav, põik
        "tee", "maantee", "puiestee", "t\xC3\xA4nav", "p\xC3\xB5ik",
        // Lithuanian: gatvė, aikštė, plentas, prospektas, alėja, skersgatvis, aplinkkelis, takas
        "gatv\xC4\x97", "aik\xC5\xA1t\xC4\x97", "plentas", "prospektas", "al\xC4\x97ja",
        "skersgatvis", "aplinkkelis", "takas", "vie\xC5\xA1kelis", "skveras", "krantin\xC4\x97",
        // Armenian: փողոց (street), պողոտա (avenue), նրբանցք (lane)
        "\xD6\x83\xD5\xB8\xD5\xB2\xD5\xB8\xD6\x81",
        "\xD5\xBA\xD5\xB8\xD5\xB2\xD5\xB8\xD5\xBF\xD5\xA1",
        "\xD5\xB6\xD6\x80\xD5\xA2\xD5\xA1\xD5\xB6\xD6\x81\xD6\x84"};
    static constexpr std::string_view kAbbreviations[] = {
        "c/", "av", "avda", "pza", "ul", "al", "pl", "os", "bulw", "bd", "str",
        // ул., пл., пр., пер., наб., вул.
        "\xD1\x83\xD0\xBB", "\xD0\xBF\xD0\xBB", "\xD0\xBF\xD1\x80", "\xD0\xBF\xD0\xB5\xD1\x80",
        "\xD0\xBD\xD0\xB0\xD0\xB1", "\xD0\xB2\xD1\x83\xD0\xBB"};
    // Spanish-speaking countries' abbreviations of a leading street word, with their full stop
    // only: calle (C., Cl., Cll.), carrera (Cra., Kr.), pasaje, carretera, ronda, travesía.
    static constexpr std::string_view kLeadingAbbreviations[] = {
        "c", "cl", "cll", "cra", "kr", "pje", "ctra", "rda", "trav", "tv"};
    char buf[32];
    uint32_t end = i;
    bool marker = false;  // the house number's own word was read past
    for (int k = 0; k < 6; ++k) {
      if (end > v_.seg_start && v_.at(end - 1) == ',') --end;  // "Calle Mayor, 10"
      const uint32_t w = WordStart(end);
      if (w == end) return kNoStreet;
      const std::string_view lw = Folded(w, end, buf, sizeof(buf));
      if (lw.empty()) return kNoStreet;
      const bool abbreviation = v_.at(end - 1) == '.' || v_.at(end - 1) == '/';
      // "Oak Avenue Suite 685": a unit's number; the street before it has its own.
      if (k == 0 && OneOf(lw, kUnitWords)) return kNoStreet;
      // The house number's own word before it, as Indonesia, Latin America, Germany, Russia
      // and Ukraine write it ("Jl. Cikapayang No. 005", "Hauptstraße Nr. 5", "ул. Снежная, д.
      // 73", "дом 5", "буд. 7"): the street is the name before it.
      if (k == 0 && !marker &&
          (lw == "no" || lw == "nr" || lw == "number" || lw == "n\xC2\xB0" || lw == "n\xC2\xBA" ||
           lw == "\xD0\xB4" || lw == "\xD0\xB4\xD0\xBE\xD0\xBC" ||
           lw == "\xD0\xB1\xD1\x83\xD0\xB4" || lw == "\xD9\xBE\xD9\x84\xD8\xA7\xDA\xA9")) {
        end = w;
        while (end > v_.seg_start && v_.at(end - 1) == ' ') --end;
        if (end == w) return kNoStreet;
        marker = true;
        --k;  // the name's words are read as if the number stood right after them
        continue;
      }
      if (OneOf(lw, kAbbreviations) && !abbreviation) {
        if (!Capitalised(w) && !Connector(lw)) return kNoStreet;
      } else if (k == 0 && Capitalised(w) &&
                 std::any_of(std::begin(kCompound), std::end(kCompound), [&](std::string_view c) {
                   return lw.size() >= c.size() + 2 && lw.ends_with(c);  // "Ekgränden"
                 })) {
        // "van den Polboulevard 16", "van Orleansbaan 5": the particles are the name's.
        uint32_t f = w;
        for (int n = 0; n < 3 && f > v_.seg_start + 1 && v_.at(f - 1) == ' '; ++n) {
          const uint32_t p = WordStart(f - 1);
          char pb[8];
          const std::string_view pw = Folded(p, f - 1, pb, sizeof(pb));
          if (p == f - 1 || !IsLower(v_.at(p)) ||
              !(pw == "van" || pw == "den" || pw == "der" || pw == "de" || pw == "het"))
            break;
          f = p;
        }
        return f < w ? f : WithDirection(w);
      } else if (k == 0 && terminal && Capitalised(w) && SlavicStreetName(lw) &&
                 !StreetWordBefore(w)) {
        // "Hostýnská 8", "Kutinska 751", "Matoušova 751", "Fándlyho 8": Czech, Slovak and
        // Croatian streets are often one adjective or possessive, with no street word.
        if (w > v_.seg_start + 1 && v_.at(w - 1) == ' ') {
          const uint32_t p = WordStart(w - 1);  // "Dobriše Cesarića 8"
          if (p < w - 1 && Capitalised(p) && NonAscii(p, w - 1)) return p;
        }
        return w;
      } else if (k == 0 && (OneOf(lw, kTrailing) || CyrillicStreetWord(lw))) {
        // The name is the word before: "Berliner Straße 5", "Bruņinieku iela 67"; or the two
        // before, a person's ("Kossuth Lajos utca 9", "Dobos Roland tér 81").
        if (w > v_.seg_start + 1 && v_.at(w - 1) == ' ') {
          const uint32_t p = WordStart(w - 1);
          if (p < w - 1 && Capitalised(p)) {
            if (p > v_.seg_start + 1 && v_.at(p - 1) == ' ') {
              const uint32_t q = WordStart(p - 1);
              if (q < p - 1 && Capitalised(q) && IsAlpha(v_.at(p - 2))) return q;
            }
            return p;
          }
        }
        if (Capitalised(w) && terminal) return w;
        return kNoStreet;
      } else if (k > 0 && abbreviation && v_.at(end - 1) == '.' && Capitalised(w) &&
                 OneOf(lw, kLeadingAbbreviations)) {
        return w;  // "C. Juana Moles 35", "Cra. 7 # 45", "Pje. Los Olmos 12"
      } else if (k > 0 && LeadingStreetWord(lw)) {
        // Cyrillic street words are written in lower case ("улица Вихрен, 336"); Hebrew and
        // Arabic have no capitals ("שדרות גד לוי 17").
        if (CyrillicStreetWord(lw) || (!Capitalised(w) && NameWord(w))) return w;
        const bool named = Capitalised(w) || abbreviation ||
                           (w > v_.seg_start + 1 && v_.at(w - 1) == ' ' &&
                            Capitalised(WordStart(w - 1)) && WordStart(w - 1) < w - 1);
        if (named) {
          // "Petite rue Dicki": a capitalised word before a lower-case street word is its own.
          if (!Capitalised(w) && !abbreviation) return WordStart(w - 1);
          return w;
        }
        return terminal ? w : kNoStreet;
      } else if (!NameWord(w) && !Connector(lw)) {
        return kNoStreet;
      }
      if (w < v_.seg_start + 2 || v_.at(w - 1) != ' ') return kNoStreet;
      end = w - 1;
    }
    return kNoStreet;
  }

  // Streets named by where they are, a preposition and a place ("Am Markt 5", "Unter den
  // Linden 77", "U Tyršovky 622", "Na vŕšku 574", "K Hluboké Cestě 164"): the preposition
  // capitalised, one to three words after it (capitalised, an article, or Czech and Slovak
  // words in lower case with their marks), the number ending the phrase. Its start, or
  // kNoStreet.
  uint32_t PrepositionStreetBefore(uint32_t i) const {
    // German contractions, Czech and Slovak prepositions (Před, Při as "P\u0159ed", "P\u0159i").
    static constexpr std::string_view kPrepositions[] = {"Am",
                                                         "Im",
                                                         "Zum",
                                                         "Zur",
                                                         "U",
                                                         "K",
                                                         "Ke",
                                                         "Na",
                                                         "Nad",
                                                         "Pod",
                                                         "V",
                                                         "Ve",
                                                         "Za",
                                                         "Pri",
                                                         "Pred",
                                                         "P\xC5\x99"
                                                         "ed",
                                                         "P\xC5\x99"
                                                         "i"};
    // German prepositions only before an article ("An der Alster"; not "In Progress 3").
    static constexpr std::string_view kBeforeArticle[] = {"An",     "Auf", "In", "Unter",
                                                          "Hinter", "Vor", "Bei"};
    static constexpr std::string_view kArticles[] = {"der", "dem", "den", "die", "das"};
    uint32_t end = i;
    bool article = false;
    for (int k = 0; k < 4; ++k) {
      if (end > v_.seg_start && v_.at(end - 1) == ',') --end;
      const uint32_t w = WordStart(end);
      if (w == end || v_.at(end - 1) == '.') return kNoStreet;
      const std::string_view word = v_.sub(w, end);
      if (k > 0 && (OneOf(word, kPrepositions) || (article && OneOf(word, kBeforeArticle))))
        return w;
      article = k > 0 && OneOf(word, kArticles);
      const bool fits = Capitalised(w) || article || (NonAscii(w, end) && word.size() >= 4);
      if (!fits || w < v_.seg_start + 2 || v_.at(w - 1) != ' ') return kNoStreet;
      end = w - 1;
    }
    return kNoStreet;
  }

  // "12 rue de la Paix", "5 bis, avenue Foch", "975 Rua Samuel": the end of the street's name
  // after the house number that ends at e, or 0.
  uint32_t StreetAfterNumber(uint32_t e) const {
    uint32_t p = e;
    if (v_.at(p) == ',') ++p;
    if (v_.at(p) != ' ') return 0;
    ++p;
    char buf[32];
    uint32_t we = WordEnd(p);
    if (v_.at(we) == '.') ++we;  // "av."
    const std::string_view first = Folded(p, we, buf, sizeof(buf));
    if (!LeadingStreetWord(first)) {
      // The number before a compound, as the Netherlands' and Germany's streets are also
      // written: "1784 Karistraat", "90426 Hirtheweg".
      const bool compound =
          first.size() >= 6 && Capitalised(p) && !IsAlnum(v_.at(we)) && v_.at(we) != '.' &&
          std::any_of(std::begin(kCompound), std::end(kCompound), [&](std::string_view c) {
            return first.size() >= c.size() + 3 && first.ends_with(c);
          });
      return compound ? we : 0;
    }
    uint32_t end = 0;
    for (int k = 0; k < 6 && v_.at(we) == ' '; ++k) {
      const uint32_t w = we + 1, x = WordEnd(w);
      if (x == w) break;
      const std::string_view lw = Folded(w, x, buf, sizeof(buf));
      if (OneOf(lw, kUnitWords)) break;  // "74 רחוב זבולון גבאי Apt. 134": the unit's own
      // A title in the name, abbreviated: "via Dr. Patrizio Neri", "viale Dott.ssa Amata …",
      // "piazzale Sig.ra Penelope …".
      if (v_.at(x) == '.' && x - w <= 5 && Capitalised(w)) {
        uint32_t y = x + 1;
        while (y < v_.seg_end && IsLower(v_.at(y)) && y - x <= 4) ++y;
        if (v_.at(y) == ' ' && NameWord(y + 1)) {
          we = y;
          continue;
        }
      }
      if (NameWord(w) ||
          (lw.size() > 2 && (lw.starts_with("l'") || lw.starts_with("d'")) && Capitalised(w + 2))) {
        end = x;
      } else if (!Connector(lw) && lw != "\xC3\xA0" && lw != "au" && lw != "aux" && lw != "sur") {
        break;
      }
      we = x;
    }
    return end;
  }

  // The unit after a house number, as Spain, Italy, Portugal, Brazil and Hungary write it
  // ("6, Esc. 590", "4, Piano 53", "3586 Apto 786", "71. 3/2", "43. 7. emelet 5. ajtó"): the
  // end of up to two of them after e, or e.
  uint32_t UnitsAfter(uint32_t e) const {
    static constexpr std::string_view kUnits[] = {
        "esc", "escalera", "puerta", "piso", "planta", "apto", "apt", "casa", "piano",
        "appartamento", "interno", "int", "scala", "bloco", "bloque", "portal", "dpto", "depto",
        "andar", "sala", "lote", "emelet", "ajt\xC3\xB3",
        // … and as Germany, Austria, Scandinavia, the Low Countries, Poland, France and
        // English write a flat after a street of theirs ("Boberstr. 574 Zimmer 149", "Björkgränden
        // 4 Lgh. 149", "Kerkstraat 5 bus 3", "Mikołajczyk 41b m. 504", "Tusarova 431 Apt. 750").
        "suite", "ste", "unit", "flat", "apartment", "app", "appt", "zimmer", "whg", "wohnung",
        "top", "stiege", "lgh", "hus", "bte", "bus", "m", "porte", "room", "rm", "kat", "stan",
        "leil", "ap", "bloc", "interior", "edif", "level", "porta", "fl", "floor",
        // Arabic جناح (a suite), Hebrew קומה (a floor) and דירה (a flat)
        "\xD8\xAC\xD9\x86\xD8\xA7\xD8\xAD", "\xD7\xA7\xD7\x95\xD7\x9E\xD7\x94",
        "\xD7\x93\xD7\x99\xD7\xA8\xD7\x94",
        // кв. (a flat, Russian and Ukrainian), Armenian բն.
        "\xD0\xBA\xD0\xB2", "\xD5\xA2\xD5\xB6"};
    // Floors written after their number ("6 OG", "9 étage", "2 hoog", "3. th").
    static constexpr std::string_view kFloors[] = {"og", "etage", "\xC3\xA9tage", "hoog", "stock",
                                                   "th", "tv",    "mf",           "sal",  "stg"};
    auto number_at = [&](uint32_t q) {  // 1-4 digits, or n/m; a letter after ("Lote 48E", "3B")
      uint32_t r = q;
      while (r < v_.seg_end && IsDigit(v_.at(r)) && r - q < 5) ++r;
      if (r == q || r - q > 4) return q;
      if (v_.at(r) == '/' && IsDigit(v_.at(r + 1))) {
        ++r;
        while (r < v_.seg_end && IsDigit(v_.at(r))) ++r;
      } else if (IsUpper(v_.at(r)) && !IsAlnum(v_.at(r + 1))) {
        ++r;
      }
      return IsAlnum(v_.at(r)) ? q : r;
    };
    char buf[16];
    for (int k = 0; k < 3; ++k) {
      uint32_t p = e;
      if (v_.at(p) == '.' || v_.at(p) == ',') ++p;  // "71. 3/2", "4, Piano 53"
      if (v_.at(p) != ' ') break;
      ++p;
      // Spain's and Portugal's floors: "5º", "2ª", "5º E", "1º Dr.", "65º Esq.".
      if (const uint32_t r = number_at(p);
          r > p && v_.at(r) == 0xC2 && (v_.at(r + 1) == 0xBA || v_.at(r + 1) == 0xAA)) {
        uint32_t o = r + 2;
        if (v_.at(o) == ' ' && IsUpper(v_.at(o + 1))) {
          const uint32_t x = WordEnd(o + 1);
          if (x - o - 1 == 1 && !IsAlnum(v_.at(x))) {
            o = x;  // a door's letter
          } else if (x - o - 1 <= 4 && v_.at(x) == '.') {
            static constexpr std::string_view kSides[] = {"dr", "izq", "esq", "eq", "dcha", "izda"};
            if (OneOf(Folded(o + 1, x, buf, sizeof(buf)), kSides)) o = x + 1;
          }
        }
        e = o;
        continue;
      }
      {  // "Bajos", "Bajo", "Ático": a floor by its name
        const uint32_t x = WordEnd(p);
        static constexpr std::string_view kNamedFloors[] = {"bajos", "bajo", "\xC3\xA1tico",
                                                            "entresuelo"};
        if (x > p && !IsAlnum(v_.at(x)) && v_.at(x) != '.' &&
            OneOf(Folded(p, x, buf, sizeof(buf)), kNamedFloors)) {
          e = x;
          continue;
        }
      }
      // "3/2" (Hungarian floor and door), "7. emelet 5. ajtó" (the number first).
      if (const uint32_t r = number_at(p); r > p) {
        uint32_t w = r;
        if ((v_.at(w) == '.' && v_.at(w + 1) == ' ') || v_.at(w) == ' ') {
          const uint32_t wb = w + (v_.at(w) == '.' ? 2 : 1), x = WordEnd(wb);
          const std::string_view lw = Folded(wb, x, buf, sizeof(buf));
          if (x > wb && ((v_.at(w) == '.' && OneOf(lw, kUnits)) || OneOf(lw, kFloors))) {
            e = x;
            continue;
          }
        }
        if (v_.sub(p, r).find('/') != std::string_view::npos) {
          e = r;
          continue;
        }
        break;
      }
      const uint32_t x = WordEnd(p);
      // A Dutch floor in Roman numerals ("Daangracht 431 II"), a Finnish stairwell and flat
      // ("Aleksilinja 4 A 14").
      if (const std::string_view t = v_.sub(p, x);
          (t == "I" || t == "II" || t == "III" || t == "IV") && !IsAlnum(v_.at(x))) {
        e = x;
        continue;
      }
      if (x == p + 1 && IsUpper(v_.at(p)) && v_.at(x) == ' ' && number_at(x + 1) > x + 1 &&
          number_at(x + 1) - x - 1 <= 3 && v_.at(number_at(x + 1)) != ' ') {
        e = number_at(x + 1);
        continue;
      }
      uint32_t q = x;
      if (v_.at(q) == '.') ++q;
      if (q == p || !OneOf(Folded(p, x, buf, sizeof(buf)), kUnits) || v_.at(q) != ' ') break;
      const uint32_t r = number_at(q + 1);
      if (r == q + 1) break;
      e = r;
    }
    return e;
  }

  // ", 10115 Berlin", " 1017 GC Amsterdam", ", 00-514 Warszawa", " 114 55 Stockholm": the end
  // of the postcode and city after e, or e.
  uint32_t PostcodeCityAfter(uint32_t e) const {
    uint32_t p = e;
    if (v_.at(p) == ',') ++p;
    if (v_.at(p) != ' ') return e;
    ++p;
    uint32_t q = p;
    while (q < v_.seg_end && IsDigit(v_.at(q)) && q - p < 6) ++q;
    const uint32_t n = q - p;
    if (n == 2 && v_.at(q) == '-' && IsDigit(v_.at(q + 1))) {  // Poland: 00-514
      uint32_t r = q + 1;
      while (r < v_.seg_end && IsDigit(v_.at(r))) ++r;
      if (r - q - 1 != 3) return e;
      q = r;
    } else if (n == 4 && v_.at(q) == '-' && IsDigit(v_.at(q + 1)) && IsDigit(v_.at(q + 2)) &&
               IsDigit(v_.at(q + 3)) && !IsDigit(v_.at(q + 4))) {
      q += 4;  // Portugal: 9983-064
    } else if (n == 3 && v_.at(q) == ' ' && IsDigit(v_.at(q + 1)) && IsDigit(v_.at(q + 2)) &&
               !IsDigit(v_.at(q + 3))) {
      q += 3;  // Sweden: 114 55
    } else if (n == 4 && v_.at(q) == ' ' && IsUpper(v_.at(q + 1)) && IsUpper(v_.at(q + 2)) &&
               v_.at(q + 3) == ' ') {
      q += 3;  // the Netherlands: 1017 GC
    } else if (n != 4 && n != 5) {
      return e;
    }
    if (v_.at(q) != ' ' || !Capitalised(q + 1)) return e;
    uint32_t city = WordEnd(q + 1);
    for (int k = 0; k < 3 && v_.at(city) == ' '; ++k) {
      if (Capitalised(city + 1)) {
        city = WordEnd(city + 1);
        continue;
      }
      // "Talavera de la Reina", "Mautern an der Donau": connectors before a capitalised word.
      uint32_t c = city;
      for (int m = 0; m < 2 && v_.at(c) == ' ' && IsLower(v_.at(c + 1)); ++m) {
        char buf[8];
        const uint32_t x = WordEnd(c + 1);
        const std::string_view lw = Folded(c + 1, x, buf, sizeof(buf));
        if (!(Connector(lw) || lw == "an" || lw == "am" || lw == "der" || lw == "sur" ||
              lw == "le" || lw == "do" || lw == "da"))
          break;
        c = x;
      }
      if (c == city || v_.at(c) != ' ' || !Capitalised(c + 1)) break;
      city = WordEnd(c + 1);
    }
    return city;
  }

  // A number read out in words after its keyword, as call transcripts and dictated notes
  // write it: "ssn: five three six - two two - one two three four", "phone: four one five, five
  // five five, oh one three two" (also "double five"). Emitted when the count of digits is the
  // entity's: 9 for an SSN or ITIN, 7-15 for a phone, 3-4 for a card's code, 6-17 for an
  // account.
  void SpelledDigits(Entity entity, uint32_t p) {
    size_t lo, hi;
    switch (entity) {
      case Entity::kUsSsn:
      case Entity::kUsItin:
        lo = hi = 9;
        break;
      case Entity::kPhone:
        lo = 7, hi = 15;
        break;
      case Entity::kCardCvv:
        lo = 3, hi = 4;
        break;
      case Entity::kBankAccount:
        lo = 6, hi = 17;
        break;
      default:
        return;
    }
    static constexpr std::string_view kWords[] = {"zero", "one", "two",   "three", "four",
                                                  "five", "six", "seven", "eight", "nine"};
    size_t digits = 0, repeat = 1;
    uint32_t q = p, end = p;
    while (q < v_.seg_end && digits <= hi) {
      uint32_t w = q;
      while (w < v_.seg_end && IsAlpha(v_.at(w))) ++w;
      const std::string_view word = v_.sub(q, w);
      int d = EqualsLower(word, "oh") || EqualsLower(word, "o") ? 0 : -1;
      for (int k = 0; k < 10 && d < 0; ++k)
        if (EqualsLower(word, kWords[k])) d = k;
      if (d >= 0) {
        digits += repeat;
        repeat = 1;
        end = w;
      } else if (repeat == 1 && (EqualsLower(word, "double") || EqualsLower(word, "triple"))) {
        repeat = word.size() == 6 && Lower(word[0]) == 'd' ? 2 : 3;
      } else {
        break;
      }
      q = w;  // separators: spaces, a dash or a comma between the words
      while (q < v_.seg_end && q - w < 3 && (v_.at(q) == ' ' || v_.at(q) == '-' || v_.at(q) == ','))
        ++q;
      if (q == w) break;
    }
    if (digits >= lo && digits <= hi && end > p) Emit(p, end, entity, 0.85f);
  }

  // After a context keyword: skip separators and filler words, then read the value.
  void KeywordValue(Entity entity, uint32_t to) {
    uint32_t p = to;
    // passport_number, apiKey_2; not the digits glued to a label of another script
    // ("手机13812345678").
    if (v_.at(to - 1) < 0x80)
      while (p < v_.seg_end && IsWord(v_.at(p))) ++p;
    // `password=`, `PGPASSWORD=`, `"db_passwd": "…"`: the key ends with the password word, so
    // its value is the password however weak (not `password_changed_at=`, `password_length=`).
    // A security question's answer is a password too (`secret_answer=Fluffy`).
    const bool password_key =
        entity == Entity::kGenericSecret &&
        ((p == to && EndsWithWord(to,
                                  {"password", "passwd", "pwd", "passphrase", "pass", "pin",
                                   "answer", "maiden name", "maiden_name", "maidenname",
                                   "requirepass", "masterauth", "by"},
                                  false)) ||
         (p > to && EndsWithWord(p, {"answer"}, false)));
    // A PIN is its digits (`pin: 4821`), and India's `PIN code` is a postcode.
    const bool pin = password_key && p == to && EndsWithWord(to, {"pin"}, false);
    // A passphrase is words: it runs to the end of its line, not its first space. So may a
    // security question's answer ("security_answer=blue dog").
    const bool phrase = password_key && p == to && EndsWithWord(to, {"phrase", "answer"}, false);
    // `IDENTIFIED BY 'pw'`: the words say it is the password, when a string literal follows
    // (not "identified by the customer").
    const bool identified_by = password_key && p == to && EndsWithWord(to, {"by"}, false);
    auto quote = [](unsigned char c) { return c == '"' || c == '\''; };
    if (identified_by && !(v_.at(to) == ' ' && quote(v_.at(to + 1)))) return;
    bool assigned = identified_by;
    const uint32_t limit = std::min<uint32_t>(v_.seg_end, p + 32);
    // The next byte after blanks (a string literal's quote after `define('DB_PASSWORD', `).
    auto after_blanks = [&](uint32_t q) {
      while (q < limit && v_.at(q) == ' ') ++q;
      return v_.at(q);
    };
    // A constant's name in quotes ends at `to` ('DB_PASSWORD', 'AUTH_KEY'): a string that is
    // the value itself ('password' in `scrypt('password', 'salt')`, '/etc/passwd') is not.
    auto quoted_constant = [&] {
      if (!quote(v_.at(to))) return false;
      uint32_t b = to;
      while (b > v_.seg_start && to - b < 64 &&
             (IsUpper(v_.at(b - 1)) || IsDigit(v_.at(b - 1)) || v_.at(b - 1) == '_'))
        --b;
      return b < to && v_.at(static_cast<int64_t>(b) - 1) == v_.at(to);
    };
    bool element = false;  // <Password>pw</Password>: the value must close the element
    while (p < limit) {
      unsigned char c = v_.at(p);
      // A password may start with a symbol: `password: #$!%&70q54DaU`, `pwd=-Xy12`.
      if (password_key && assigned && (c == '#' || c == '-') && !blank(v_.at(p + 1)) &&
          v_.at(p + 1) != 0)
        break;
      if (c == ':' || c == '=') {
        assigned = true;
        ++p;
      } else if ((c == ',' && quote(after_blanks(p + 1)) && quoted_constant()) ||
                 (c == '(' && p == to && password_key && quote(v_.at(p + 1)))) {
        // A key's value as code writes it: `define('DB_PASSWORD', 'pw')`, `PASSWORD('pw')`,
        // `set_password('pw')`.
        assigned = true;
        ++p;
      } else if (c == '>' && !assigned && (p == to || (p == to + 1 && quote(v_.at(to)))) &&
                 v_.at(p + 1) != ' ' && v_.at(p + 1) != '<') {
        // Markup: `<Password>pw</Password>`, `<entry key="password">pw</entry>`.
        assigned = element = true;
        ++p;
      } else if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '#' || c == '-' ||
                 c == '>' || c == ',' || c == '.') {
        ++p;
      } else if (c == 0xC2 && (v_.at(p + 1) == 0xBA || v_.at(p + 1) == 0xB0)) {
        p += 2;  // "nº", "n°": number
      } else if (IsAlpha(c) &&
                 (!IsValueStart(entity, p) || (!assigned && IsFillerAt(p, limit, entity)))) {
        uint32_t w = p;
        while (w < limit && IsAlpha(v_.at(w))) ++w;
        std::string_view word = v_.sub(p, w);
        if (IsDigit(v_.at(w))) return;
        if (!IsFiller(word, entity)) return SpelledDigits(entity, p);
        if (word.size() == 2 && Lower(word[0]) == 'i' && Lower(word[1]) == 's') assigned = true;
        p = w;
        if (v_.at(p) == '.') ++p;
      } else {
        break;
      }
    }
    if (p >= v_.seg_end) return;
    const bool needs_assignment =
        entity == Entity::kGenericSecret || entity == Entity::kAwsSecretKey;
    // `login deploy password fZni…` (.netrc, ftp and curl config): a password keyword followed
    // by a value with no ':' or '=', when the value has letters and digits and looks random.
    // SQL writes it `PASSWORD 'pw'` (CREATE ROLE, ALTER USER): a quoted value right after the
    // word is the password, as `password=` would say.
    if (entity == Entity::kGenericSecret && !assigned && p == to + 2 && v_.at(to) == ' ' &&
        quote(v_.at(to + 1)) && EndsWithWord(to, {"password", "passwd"}))
      assigned = true;
    const bool bare_password =
        entity == Entity::kGenericSecret && !assigned && p > to && v_.at(p - 1) == ' ' &&
        v_.at(to) == ' ' && EndsWithWord(to, {"password", "passwd", "requirepass", "masterauth"});
    // `sample secret wJalr…`, `token 9fQ2…`: a long random value right after `secret` or
    // `token`, with no ':' or '=' (a word such as `secret santa` is not random enough).
    const bool bare_secret = entity == Entity::kGenericSecret && !assigned && !bare_password &&
                             p > to && v_.at(p - 1) == ' ' && v_.at(to) == ' ' &&
                             EndsWithWord(to, {"secret", "token"});
    // `aws configure set aws_secret_access_key wJalr…`: forty characters that pass the key's
    // own test need no '=' after its name.
    const bool bare_aws =
        entity == Entity::kAwsSecretKey && !assigned && p > to && v_.at(p - 1) == ' ';
    if (needs_assignment && !assigned && !bare_password && !bare_secret && !bare_aws) return;
    const float score = catalog::Info(entity).base_score;
    switch (entity) {
      case Entity::kUsSsn:
      case Entity::kUsItin:
      case Entity::kUsBankRouting:
      case Entity::kUsNpi:
      case Entity::kUkNhs: {
        const size_t want = (entity == Entity::kUsNpi || entity == Entity::kUkNhs) ? 10 : 9;
        char d[16];
        size_t nd = 0;
        uint32_t e = p;
        while (e < v_.seg_end && nd < 16) {
          unsigned char c = v_.at(e);
          if (IsDigit(c)) {
            d[nd++] = static_cast<char>(c);
          } else if (nd > 0 && nd < want && c == ' ' && v_.at(e + 1) == '-' &&
                     v_.at(e + 2) == ' ' && IsDigit(v_.at(e + 3))) {
            e += 3;  // a dash with spaces around it: "536 - 22 - 1234"
            continue;
          } else if (nd == want ||
                     !((c == '-' || c == ' ' || c == '.') && IsDigit(v_.at(e + 1)) && nd > 0)) {
            break;  // complete, or not a separator inside the number
          }
          ++e;
        }
        if (nd != want || IsAlnum(v_.at(e))) {
          // What another country's records call a social security number after the same word:
          // a PESEL, a CPF, a henkilötunnus, a codice fiscale ("ssn 81102428859",
          // "ssn 230785-0268"): the national id of that country.
          if (entity == Entity::kUsSsn) NationalIdAfterKeyword(p);
          return;
        }
        std::string_view digits(d, nd);
        bool ok = entity == Entity::kUsSsn    ? validate::UsSsn(digits)
                  : entity == Entity::kUsItin ? validate::UsItin(digits)
                  : entity == Entity::kUsNpi  ? validate::UsNpi(digits)
                  : entity == Entity::kUkNhs  ? validate::UkNhs(digits)
                                              : validate::AbaRouting(digits);
        // Right after an SSN keyword, nine digits are the SSN the text says they are, issued
        // or not (`SSN#: 123-45-6789`); the checksummed identifiers keep their gates.
        if (ok || entity == Entity::kUsSsn) Emit(p, e, entity, score);
        return;
      }
      case Entity::kUsPassport:
      case Entity::kUsDriverLicense: {
        uint32_t e = p;
        while (e < v_.seg_end && e - p < 24 &&
               (IsAlnum(v_.at(e)) || (v_.at(e) == '-' && IsAlnum(v_.at(e + 1)))))
          ++e;
        char c[24];
        size_t n = 0;
        for (uint32_t k = p; k < e; ++k)
          if (v_.at(k) != '-') c[n++] = static_cast<char>(v_.at(k));
        std::string_view s(c, n);
        // After its label, a number in another country's shape is still the document's:
        // passports up to ICAO's nine characters ("12AB34567", "AAA123456"), licences such as
        // the UK's sixteen ("MORGA753116SM9IJ").
        bool ok = entity == Entity::kUsPassport
                      ? validate::UsPassport(s) || LabeledDocument(s, 6, 9)
                      : validate::UsDriverLicense(s) || LabeledDocument(s, 8, 18);
        if (ok) Emit(p, e, entity, score);
        return;
      }
      case Entity::kNationalId:
        NationalIdAfterKeyword(p, EndsWithWord(to, {"rfc"}, false));
        return;
      case Entity::kBankAccount:
      case Entity::kCardCvv: {
        // An account number: 6-17 digits, in groups or not (`12-345678-9`); a card's security
        // code: 3 or 4 digits and nothing more (`cvv: 123`, not `cvv 12/27`).
        uint32_t e = p;
        size_t digits = 0;
        while (e < v_.seg_end && digits < 18) {
          if (IsDigit(v_.at(e))) {
            ++digits;
            ++e;
          } else if (entity == Entity::kBankAccount && (v_.at(e) == '-' || v_.at(e) == ' ') &&
                     IsDigit(v_.at(e + 1)) && digits > 0) {
            ++e;
          } else {
            break;
          }
        }
        const unsigned char next = v_.at(e);
        if (IsAlnum(next) || next == '/' || next == '@' || (next == '.' && IsDigit(v_.at(e + 1))))
          return;
        const bool ok = entity == Entity::kCardCvv ? (digits == 3 || digits == 4) && e - p == digits
                                                   : digits >= 6 && digits <= 17;
        if (ok) Emit(p, e, entity, score);
        return;
      }
      case Entity::kUkNino: {
        // Two letters, six digits (in pairs or not), a suffix letter A-D or none: any letters,
        // since the label says what the number is.
        if (!IsUpper(v_.at(p)) || !IsUpper(v_.at(p + 1))) return;
        uint32_t e = p + 2;
        if (v_.at(e) == ' ') ++e;
        int digits = 0;
        while (digits < 6) {
          if (IsDigit(v_.at(e))) {
            ++digits;
            ++e;
          } else if (v_.at(e) == ' ' && digits % 2 == 0 && digits > 0 && IsDigit(v_.at(e + 1))) {
            ++e;
          } else {
            break;
          }
        }
        if (digits != 6 || IsDigit(v_.at(e))) return;
        uint32_t sfx = v_.at(e) == ' ' ? e + 1 : e;
        if (v_.at(sfx) >= 'A' && v_.at(sfx) <= 'D' && !IsAlnum(v_.at(sfx + 1)))
          e = sfx + 1;
        else if (IsAlnum(v_.at(e)))
          return;
        Emit(p, e, entity, score);
        return;
      }
      case Entity::kPhone:
        PhoneAfterKeyword(p);
        return;
      case Entity::kDateOfBirth:
        DateAt(p);
        return;
      case Entity::kStreetAddress: {  // a box number: digits, in groups ("10 11 12")
        uint32_t e = p;
        while (e < v_.seg_end && e - p < 12 &&
               (IsDigit(v_.at(e)) || (v_.at(e) == ' ' && IsDigit(v_.at(e + 1)) && e > p)))
          ++e;
        if (e > p && !IsAlpha(v_.at(e))) Emit(p, e, entity, score);
        return;
      }
      case Entity::kAwsSecretKey: {
        uint32_t e = p;
        while (e < v_.seg_end && e - p <= 40 &&
               (IsAlnum(v_.at(e)) || v_.at(e) == '/' || v_.at(e) == '+'))
          ++e;
        if (validate::AwsSecretKey(v_.sub(p, e))) Emit(p, e, entity, score);
        return;
      }
      case Entity::kGenericSecret: {
        unsigned char q = v_.at(static_cast<int64_t>(p) - 1);
        uint32_t e = p;
        if (q == '"' || q == '\'') {
          while (e < v_.seg_end && e - p < 256 && v_.at(e) != q) ++e;
        } else {
          auto stop = [phrase](unsigned char c) {
            return c == 0 || (c == ' ' && !phrase) || c == '\t' || c == '\r' || c == '\n' ||
                   c == ',' || c == ';' || c == '&' || c == '"' || c == '\'' || c == '<' ||
                   c == '>' || c == ')' || c == '}' || c == ']';
          };
          // In a password, '&' is a symbol unless a query string's next `key=` follows it
          // (`PGPASSWORD=Tr0ub4dor&3`, `?password=x&sslmode=require`).
          auto next_key = [&](uint32_t k) {
            uint32_t w = k + 1;
            while (w < v_.seg_end && IsWord(v_.at(w))) ++w;
            return w > k + 1 && v_.at(w) == '=';
          };
          while (e < v_.seg_end && e - p < 256 &&
                 (!stop(v_.at(e)) || (password_key && v_.at(e) == '&' && !next_key(e))) &&
                 !(v_.at(e) == '\\' &&
                   (v_.at(e + 1) == 'n' || v_.at(e + 1) == 'r' || v_.at(e + 1) == 't')))
            ++e;
          // A sentence's full stop is not part of the value; a password's '!' or '?' is.
          const unsigned char last = v_.at(e - 1);
          if (e > p + 1 &&
              (last == '.' || last == ',' || (!password_key && (last == '!' || last == '?'))) &&
              (e == v_.seg_end || v_.at(e) == ' ' || v_.at(e) == '\t'))
            --e;
        }
        // Not an element's text (`std::vector<Token> m_buffer;`).
        if (element && !(v_.at(e) == '<' && v_.at(e + 1) == '/')) return;
        const std::string_view value = v_.sub(p, e);
        const bool digits = std::any_of(value.begin(), value.end(), IsDigit);
        const bool letters = std::any_of(value.begin(), value.end(), IsAlpha);
        if (bare_password && ((!(digits && letters) &&
                               !(value.size() >= 12 && validate::ShannonEntropy(value) >= 3.5)) ||
                              value.find_first_of("=:") != std::string_view::npos))
          return;
        if (bare_secret) {
          if (value.size() < 16 || !digits || !letters ||
              value.find_first_of("=:") != std::string_view::npos ||
              validate::ShannonEntropy(value) < 3.5 || !validate::LooksLikeSecret(value, 3.5))
            return;
          // Forty characters of AWS's alphabet after `secret` are its secret access key.
          Emit(p, e, validate::AwsSecretKey(value) ? Entity::kAwsSecretKey : entity, score);
          return;
        }
        if (pin) {  // not after another word: `PIN code: 560001` is India's postcode
          const std::string_view between = v_.sub(to, p);
          if (value.size() >= 4 && std::none_of(between.begin(), between.end(), IsAlpha) &&
              value.size() <= 8 && std::all_of(value.begin(), value.end(), IsDigit))
            Emit(p, e, entity, score);
          return;
        }
        // `PWD=/home/alice` is the shell's working directory.
        if (password_key && (value.starts_with('/') || value.starts_with('~')) &&
            EndsWithWord(to, {"pwd"}, false))
          return;
        // A test log's result line (DejaGnu's `PASS: gdb.base/break.exp: run`, Automake's
        // `PASS: tests/t-foo.sh`): `PASS` in capitals opening its line, then a test's path.
        if (password_key && to >= v_.seg_start + 4 && v_.sub(to - 4, to) == "PASS" &&
            (to == v_.seg_start + 4 || v_.at(to - 5) == '\n' || v_.at(to - 5) == '\t') &&
            (value.find('/') != std::string_view::npos || value.back() == ':'))
          return;
        // After `api_key:`, `token=`, `client_secret:` a hex digest or a UUID is the key (many
        // providers issue them so); only a bare `password X` keeps the stricter test.
        if (password_key && assigned ? validate::Password(value)
            : assigned               ? validate::LooksLikeCredential(value)
                                     : validate::LooksLikeSecret(value, 3.0))
          Emit(p, e, entity, score);
        return;
      }
      default:
        return;
    }
  }

  // A date written after a birth keyword: "1984-03-07", "03/07/1984", "7 March 1984",
  // "March 7, 1984". Tries the longest plausible text first.
  void DateAt(uint32_t p) {
    // An ISO 8601 timestamp of the day ("dob=1979-03-14T00:00:00Z"): the date, and the time
    // with it.
    if (v_.at(p + 10) == 'T' && IsDigit(v_.at(p + 11)) &&
        validate::DateOfBirth(v_.sub(p, p + 10), CurrentYear())) {
      uint32_t e = p + 11;
      while (e < v_.seg_end && e - p < 40 &&
             (IsDigit(v_.at(e)) || v_.at(e) == ':' || v_.at(e) == '.' || v_.at(e) == 'Z' ||
              v_.at(e) == '+' || v_.at(e) == '-'))
        ++e;
      Emit(p, e, Entity::kDateOfBirth);
      return;
    }
    if (CjkDate(p)) return;
    uint32_t e = p;
    int tokens = 0;
    uint32_t ends[6];
    while (e < v_.seg_end && tokens < 6) {
      uint32_t s = e;
      while (e < v_.seg_end &&
             (IsAlnum(v_.at(e)) || v_.at(e) >= 0x80 || v_.at(e) == '/' || v_.at(e) == '-' ||
              (v_.at(e) == '.' &&
               (IsAlnum(v_.at(e + 1)) || v_.at(e + 1) == ' ' || v_.at(e + 1) >= 0x80))))
        ++e;
      if (e == s) break;
      if (v_.at(e) == ',') ++e;
      ends[tokens++] = e;
      if (v_.at(e) != ' ') break;
      ++e;
    }
    for (int t = tokens; t > 0; --t) {
      uint32_t end = ends[t - 1];
      if (v_.at(end - 1) == ',' || v_.at(end - 1) == '.') --end;  // a sentence goes on or ends
      if (validate::DateOfBirth(v_.sub(p, end), CurrentYear()) || BuddhistEraDate(v_.sub(p, end))) {
        // The year's word after it, as Russian, Bulgarian, Ukrainian and Armenian write it
        // ("1985 г.", "1985 р.", "1985 թ.").
        if (v_.at(end) == ' ' &&
            (v_.sub(end + 1, end + 4) == "\xD0\xB3." || v_.sub(end + 1, end + 4) == "\xD1\x80." ||
             v_.sub(end + 1, end + 4) == "\xD5\xA9."))
          end += 4;
        Emit(p, end, Entity::kDateOfBirth);
        return;
      }
      // "14th of March, 1979": the date without its "of".
      const std::string_view d = v_.sub(p, end);
      if (const size_t of = d.find(" of "); of != std::string_view::npos && d.size() < 64) {
        std::string plain(d.substr(0, of));
        plain.append(d.substr(of + 3));
        if (validate::DateOfBirth(plain, CurrentYear())) {
          Emit(p, end, Entity::kDateOfBirth);
          return;
        }
      }
    }
    // After the keyword a two-digit year is one too: "DOB: 03/07/84", "geb. 07.03.84".
    if (tokens > 0) {
      uint32_t end = ends[0];
      if (v_.at(end - 1) == ',' || v_.at(end - 1) == '.') --end;
      if (ShortDate(v_.sub(p, end))) Emit(p, end, Entity::kDateOfBirth);
    }
  }

  // A date whose year is of the Buddhist era, as Thailand writes birth dates ("12/03/2528"
  // is 12 March 1985): the Gregorian year is 543 less.
  bool BuddhistEraDate(std::string_view d) const {
    for (size_t i = 0; i + 4 <= d.size(); ++i) {
      if (!(d[i] == '2' && (d[i + 1] == '4' || d[i + 1] == '5' || d[i + 1] == '6')) ||
          (i > 0 && IsDigit(d[i - 1])) || (i + 4 < d.size() && IsDigit(d[i + 4])))
        continue;
      int y = 0;
      bool digits = true;
      for (size_t k = i; k < i + 4; ++k) {
        digits = digits && IsDigit(d[k]);
        y = y * 10 + (d[k] - '0');
      }
      if (!digits) continue;  // a day of 24-26 before the month ("25 กันยายน 2518")
      std::string g(d);
      g.replace(i, 4, std::to_string(y - 543));
      return validate::DateOfBirth(g, CurrentYear());
    }
    return false;
  }

  // A date as Chinese, Japanese and Korean write it: "1985年3月12日", "1985년 3월 12일".
  bool CjkDate(uint32_t p) {
    uint32_t q = p;
    int part[3] = {0, 0, 0};
    // 年 月 日 (E5 B9 B4, E6 9C 88, E6 97 A5); 년 월 일 (EB 85 84, EC 9B 94, EC 9D BC).
    static constexpr unsigned char kUnit[2][3][3] = {
        {{0xE5, 0xB9, 0xB4}, {0xE6, 0x9C, 0x88}, {0xE6, 0x97, 0xA5}},
        {{0xEB, 0x85, 0x84}, {0xEC, 0x9B, 0x94}, {0xEC, 0x9D, 0xBC}}};
    int script = -1;
    for (int k = 0; k < 3; ++k) {
      const uint32_t s = q;
      while (IsDigit(v_.at(q)) && q - s < 4) part[k] = part[k] * 10 + (v_.at(q++) - '0');
      const uint32_t len = q - s;
      if (len == 0 || (k == 0 ? len != 4 : len > 2)) return false;
      bool unit = false;
      for (int sc = 0; sc < 2 && !unit; ++sc)
        if ((script < 0 || script == sc) && v_.at(q) == kUnit[sc][k][0] &&
            v_.at(q + 1) == kUnit[sc][k][1] && v_.at(q + 2) == kUnit[sc][k][2]) {
          unit = true;
          script = sc;
        }
      if (!unit) return false;
      q += 3;
      if (k < 2 && v_.at(q) == ' ') ++q;
    }
    char iso[11];
    std::snprintf(iso, sizeof iso, "%04d-%02d-%02d", part[0], part[1], part[2]);
    if (!validate::DateOfBirth(std::string_view(iso, 10), CurrentYear())) return false;
    Emit(p, q, Entity::kDateOfBirth);
    return true;
  }

  // D/M/YY or M/D/YY with one separator ('/', '-', '.') throughout; day and month plausible.
  static bool ShortDate(std::string_view t) {
    int n[3] = {0, 0, 0}, len[3] = {0, 0, 0}, k = 0;
    char sep = 0;
    for (const char c : t) {
      if (IsDigit(c)) {
        if (++len[k] > 2) return false;
        n[k] = n[k] * 10 + (c - '0');
      } else if ((c == '/' || c == '-' || c == '.') && (sep == 0 || c == sep) && len[k] > 0 &&
                 k < 2) {
        sep = c;
        ++k;
      } else {
        return false;
      }
    }
    if (k != 2 || len[2] != 2) return false;
    auto day_month = [](int d, int m) { return d >= 1 && d <= 31 && m >= 1 && m <= 12; };
    return day_month(n[0], n[1]) || day_month(n[1], n[0]);
  }

  // INSERT INTO t (c1, c2, …) VALUES (v1, v2, …)[, (…)]: each value is checked as the entity
  // its column's name hints at.
  void SqlInsert(uint32_t to) {
    char lower[64][48];
    std::string_view cols[64];
    int nc = 0;
    uint32_t p = to;
    auto skip = [&](auto pred) {
      while (p < v_.seg_end && pred(v_.at(p))) ++p;
    };
    auto blank = [](unsigned char c) { return c == ' ' || c == '\t'; };
    while (nc < 64) {
      skip([](unsigned char c) { return c == ' ' || c == '\t' || c == '"' || c == '`'; });
      uint32_t s = p;
      skip([](unsigned char c) { return IsWord(c); });
      if (p == s || p - s >= 48) return;
      cols[nc] = std::string_view(
          lower[nc], catalog::NormalizeColumnName(v_.sub(s, p), lower[nc], sizeof(lower[nc])));
      ++nc;
      skip([](unsigned char c) { return c == ' ' || c == '"' || c == '`'; });
      if (v_.at(p) == ',') {
        ++p;
        continue;
      }
      if (v_.at(p) != ')') return;
      ++p;
      break;
    }
    skip(blank);
    for (char c : std::string_view("values")) {
      if (Lower(v_.at(p)) != c) return;
      ++p;
    }
    std::optional<Entity> hint[64];
    bool password_column[64];  // `password`, `db_passwd`: its value is the password, however weak
    for (int i = 0; i < nc; ++i) {
      hint[i] = catalog::EntityForColumnName(cols[i]);
      password_column[i] =
          cols[i].ends_with("password") || cols[i].ends_with("passwd") || cols[i].ends_with("pwd");
    }
    for (int tuples = 0; tuples < 10000; ++tuples) {
      skip([](unsigned char c) { return c == ' ' || c == ','; });
      if (v_.at(p) != '(') return;
      ++p;
      for (int i = 0;; ++i) {
        skip(blank);
        uint32_t s = p, e = p;
        if (v_.at(p) == '\'') {
          s = ++p;
          while (p < v_.seg_end && !(v_.at(p) == '\'' && v_.at(p + 1) != '\''))
            p += v_.at(p) == '\'' ? 2 : 1;
          if (p >= v_.seg_end) return;
          e = p++;
        } else {
          skip([](unsigned char c) { return c != ',' && c != ')' && c != 0; });
          e = p;
          while (e > s && blank(v_.at(e - 1))) --e;
        }
        // Below the literal-anchored detectors (0.95): a JWT in an access_token column stays a JWT.
        if (i < nc && hint[i] && e > s && ValueIs(*hint[i], v_.sub(s, e)) &&
            (*hint[i] != Entity::kGenericSecret ||
             (password_column[i] ? validate::Password(v_.sub(s, e))
                                 : validate::LooksLikeSecret(v_.sub(s, e), 3.0)))) {
          // An American's national id is an SSN, and is named so.
          const bool ssn = *hint[i] == Entity::kNationalId && ValueIs(Entity::kUsSsn, v_.sub(s, e));
          Emit(s, e, ssn ? Entity::kUsSsn : *hint[i], 0.9f);
        }
        skip(blank);
        if (v_.at(p) == ',') {
          ++p;
          continue;
        }
        if (v_.at(p) != ')') return;
        ++p;
        break;
      }
    }
  }

  // How sure a field's value must look to be a name: any case (a key that says so), a capital
  // in it (keys that are also words), or, for a "name" or a person's role judged by the rest
  // of its record, capitalised words that no organisation or place word is among
  // ("Finance Team" is no owner's name), a role's one word not an account's ("Admin"); a role
  // that is also a technical word ("user", "member", "driver") only with a name the table
  // knows.
  enum Strict : uint8_t { kAnyCase, kCapital, kRecord, kRole, kWeakRole };

  // A key's value in a structured record: `pos` is '=', ':' or '>' right after a key
  // (`first_name=Ann`, `"family":"Doe"`, `"given":["Ann","Marie"]`, `<LastName>Doe<`,
  // `sn: Doe`, `cn=Ann Doe,ou=people`, vCard's `FN:` and `N:Doe;Ann;;;`). A key that names a
  // person or a phone makes its value one, as a column's name does: a single given name or
  // surname has no other context to be found by.
  void FieldAt(uint32_t pos) {
    const unsigned char sep = v_.at(pos);
    int64_t k = pos;
    // "first_name = 'Ann'" (SQL, TOML), "\"first_name\" : \"Ann\"".
    while (k > v_.seg_start && pos - k < 2 && blank(v_.at(k - 1))) --k;
    unsigned char quote = 0;
    if (v_.at(k - 1) == '"' || v_.at(k - 1) == '\'') {
      quote = v_.at(--k);
    } else if (sep == '=' && v_.at(k - 1) == ']') {  // user[first_name]=Ann
      quote = '[';
      --k;
    }
    const int64_t key_end = k;
    while (k > v_.seg_start && key_end - k <= 40 && (IsWord(v_.at(k - 1)) || v_.at(k - 1) == '-'))
      --k;
    if (k == key_end || key_end - k > 40) return;
    unsigned char before = v_.at(k - 1);
    if (quote && before != quote) return;
    if (sep == '>' && before == ':') {  // a namespace prefix: <ns2:FirstName>
      int64_t q = k - 1;
      while (q > v_.seg_start && k - q < 16 && IsAlnum(v_.at(q - 1))) --q;
      before = v_.at(q - 1);
    }
    if (sep == '>' && before != '<') return;  // an XML start tag without attributes
    std::string_view raw = v_.sub(static_cast<uint32_t>(k), static_cast<uint32_t>(key_end));
    uint32_t p = pos + 1;
    if (sep == '=' && v_.at(p) == '>') ++p;  // Ruby's and PHP's "first_name" => "Ann"
    bool value_attribute = false;            // <family value="Chalmers"/>: FHIR's XML
    if (sep == '=' && EqualsLower(raw, "value")) {
      // <input name="first_name" value="Ann">: the key is the tag's name attribute; with
      // none, the element's own name (FHIR's XML writes every value so).
      int64_t lt = k - 1;
      while (lt > v_.seg_start && k - lt < 200 && v_.at(lt) != '<' && v_.at(lt) != '>') --lt;
      if (v_.at(lt) != '<') return;
      const std::string_view tag = v_.sub(static_cast<uint32_t>(lt), static_cast<uint32_t>(k));
      size_t at = std::string_view::npos;
      for (std::string_view a : {"name=\"", "name='", "NAME=\""})
        if ((at = tag.find(a)) != std::string_view::npos) break;
      if (at != std::string_view::npos) {
        const size_t b = at + 6, e = tag.find(tag[at + 5], b);
        if (e == std::string_view::npos) return;
        raw = tag.substr(b, e - b);
      } else {
        size_t e = 1;
        while (e < tag.size() && (IsWord(static_cast<unsigned char>(tag[e])) || tag[e] == ':')) ++e;
        raw = tag.substr(1, e - 1);
        if (const size_t colon = raw.rfind(':'); colon != std::string_view::npos)
          raw.remove_prefix(colon + 1);  // <fhir:family value=…>
        if (raw.empty()) return;
        value_attribute = true;
      }
    } else if (sep == ':' && raw == "s" && before == ';' && v_.at(k - 2) == '"') {
      // PHP's serialize(): s:10:"first_name";s:5:"Roxie"; the key is the string before.
      int64_t kb = k - 2;
      while (kb > v_.seg_start && k - kb < 48 && v_.at(kb - 1) != '"') --kb;
      raw = v_.sub(static_cast<uint32_t>(kb), static_cast<uint32_t>(k - 2));
      while (p < v_.seg_end && IsDigit(v_.at(p))) ++p;
      if (v_.at(p) != ':') return;
      ++p;
      quote = '"';  // the value is read as a quoted one
    }
    // vCard (RFC 6350) at a line's first ':': "FN:Ann Doe", "N:Doe;Ann;Marie;Dr.;",
    // "ADR;TYPE=home:;;12 Oak St;Springfield;IL", parameters or not.
    if (sep == ':' && !quote &&
        (before == '\n' || before == '\r' || before == 0 || before == ';' || before == '=' ||
         before == ',')) {
      int64_t ls = k;
      while (ls > v_.seg_start && pos - ls < 120 && v_.at(ls - 1) != '\n' &&
             v_.at(ls - 1) != '\r' && v_.at(ls - 1) != ':')
        --ls;
      const unsigned char lb = v_.at(ls - 1);
      if (lb == '\n' || lb == '\r' || lb == 0) {
        int64_t pe = ls;
        while (pe < pos && IsUpper(v_.at(pe))) ++pe;
        const std::string_view prop = v_.sub(static_cast<uint32_t>(ls), static_cast<uint32_t>(pe));
        if ((v_.at(pe) == ';' || pe == pos) && (prop == "FN" || prop == "N" || prop == "ADR")) {
          // The name parts (family, given, additional); the street of an address (third).
          const int first = prop == "ADR" ? 2 : 0, last = prop == "N" ? 2 : first;
          for (int part = 0; part <= last; ++part) {
            const uint32_t b = p;
            while (p < v_.seg_end && v_.at(p) != ';' && v_.at(p) != '\n' && v_.at(p) != '\r') ++p;
            if (part >= first) {
              if (prop != "ADR" && IsNameValue(b, p, kAnyCase))
                EmitTrimmed(b, p, Entity::kPersonName);
              else if (prop == "ADR")
                FieldValue(Entity::kStreetAddress, b, p, kAnyCase, false);
            }
            if (v_.at(p) != ';') break;
            ++p;
          }
          return;
        }
      }
    }
    // Lower case, camelCase and '-' as snake_case, in one pass (as NormalizeColumnName).
    char norm[96];
    size_t n = 0;
    for (size_t i = 0; i < raw.size() && n + 2 < sizeof(norm); ++i) {
      const unsigned char c = raw[i];
      if (IsUpper(c) && i > 0 && IsLower(raw[i - 1])) norm[n++] = '_';
      norm[n++] = c == '-' ? '_' : Lower(c);
    }
    const std::string_view key(norm, n);
    // RFC 5322 address headers: the display names of "From: \"Lee, Ann\" <ann@x.org>, Bob Roe
    // <bob@y.org>" (the addresses are e-mails by their shape).
    if (sep == ':' && !quote && (before == '\n' || before == '\r' || before == 0) &&
        (key == "from" || key == "to" || key == "cc" || key == "bcc" || key == "reply_to" ||
         key == "sender")) {
      for (int boxes = 0; boxes < 8; ++boxes) {
        while (p < v_.seg_end && (blank(v_.at(p)) || v_.at(p) == ',')) ++p;
        uint32_t b = p, e;
        if (v_.at(p) == '"') {
          b = ++p;
          p = QuotedEnd(p, '"');
          if (v_.at(p) != '"') return;
          e = p++;
          while (p < v_.seg_end && blank(v_.at(p))) ++p;
          if (v_.at(p) != '<') return;
        } else {
          while (p < v_.seg_end && p - b < 80 && v_.at(p) != '<' && v_.at(p) != ',' &&
                 v_.at(p) != '\n' && v_.at(p) != '\r')
            ++p;
          if (v_.at(p) != '<') return;
          e = p;
        }
        if (e > b) FieldValue(Entity::kPersonName, b, e, kCapital, false);
        while (p < v_.seg_end && v_.at(p) != '>' && v_.at(p) != '\n') ++p;
        if (v_.at(p) != '>') return;
        ++p;
      }
      return;
    }
    bool role_key = false, address_key = false;
    std::optional<Entity> entity = catalog::EntityForFieldKey(key, &role_key, &address_key);
    // A person's role ("owner", "recipient", "patient") or the "name" of a person's record
    // (under "customer": {…}, or beside an e-mail, phone or birth date): a capitalised name.
    int role = 0;  // 1: a person's record's "name"; 2: a person's role; 3: a weak one
    // "address: Aleksilinja 4", "Adresse: Höggen 10b": a postal address only if shaped as one.
    if (address_key) entity = Entity::kStreetAddress;
    if (!entity) {
      // The key's last word is the role ("emergency_contact", not "client_secret").
      const std::string_view last = key.substr(key.rfind('_') + 1);
      if (key == "name" ? !PersonRecord(static_cast<uint32_t>(k), pos)
                        : !role_key || last == "agent" || last == "client" || last == "lead")
        return;
      entity = Entity::kPersonName;
      role = key == "name" ? 1
             : (last == "user" || last == "member" || last == "driver" || last == "parent" ||
                last == "child" || last == "worker" || last == "staff")
                 ? 3
                 : 2;
    }
    // FHIR's "family" and "given" only as JSON keys or value attributes (<family value=…/>):
    // fontconfig's <family>Times</family>, a CSS family: fonts.
    if ((key == "family" || key == "given") && quote != '"' && !value_attribute) return;
    // Keys that are also ordinary words, or name organisations as often as people, need a
    // capitalised value ("first": "Ann", not "first": true; cn=Ann Doe, not cn=www.example.com).
    const Strict strict = role == 3   ? kWeakRole
                          : role == 2 ? kRole
                          : role == 1 ? kRecord
                          : (key == "first" || key == "last" || key == "given" || key == "family" ||
                             key == "cn" || key == "display_name" || key == "nom")
                              ? kCapital
                              : kAnyCase;
    const bool line_key = key == "line";
    if (quote == '"' || quote == '\'') {
      while (p < v_.seg_end && blank(v_.at(p))) ++p;
      const bool array = v_.at(p) == '[';
      if (array) ++p;
      for (int items = 0; items < 8; ++items) {
        while (p < v_.seg_end && blank(v_.at(p))) ++p;
        const unsigned char q = v_.at(p);
        if (q != '"' && q != '\'') return;
        const uint32_t b = ++p;
        p = QuotedEnd(p, q);
        if (v_.at(p) != q) return;
        FieldValue(*entity, b, p, strict, line_key, address_key);
        ++p;
        while (p < v_.seg_end && blank(v_.at(p))) ++p;
        if (!array || v_.at(p) != ',') return;
        ++p;
      }
      return;
    }
    while (p < v_.seg_end && blank(v_.at(p))) ++p;
    if (v_.at(p) == '"' || v_.at(p) == '\'') {  // YAML and logfmt quote a value with spaces
      const unsigned char q = v_.at(p);
      const uint32_t b = ++p;
      p = QuotedEnd(p, q);
      if (v_.at(p) == q) FieldValue(*entity, b, p, strict, line_key, address_key);
      return;
    }
    const uint32_t b = p;
    // Where an unquoted value ends: an XML element at '<'; after '=' at a form's '&', a
    // logfmt pair's space or a DN's ',' (`cn=` and `sn=` values have spaces); after ':' at the
    // line's end (YAML, LDIF, headers) or a flow mapping's ',' or '}'.
    const bool dn = key == "cn" || key == "sn";
    // A ',' ends a value after ':' only in a flow mapping ("{first: Ann, last: Doe}"); a
    // YAML or LDIF line's value runs to its end ("street: 21 Allée, Voie Saint-Bernard").
    bool flow = false;
    for (int64_t i = k - 1; sep == ':' && i >= v_.seg_start && !flow && v_.at(i) != '\n'; --i)
      flow = v_.at(i) == '{';
    bool open = false;         // a '(' in the value: "phone=(784)+242-1115"
    uint32_t first_blank = 0;  // after '=', where the first word ends
    while (p < v_.seg_end) {
      const unsigned char c = v_.at(p);
      if (c == '\n' || c == '\r' || c == '<' || c == '"' || c == '|' || c == ';') break;
      open |= c == '(';
      if (sep == '=' && (c == '&' || c == ',' || c == ':' || (c == ')' && !open))) break;
      if (sep == '=' && !dn && blank(c)) {
        // A logfmt pair ends at a space before the next key; an unquoted value with spaces
        // runs on ("last_name=van der Sluis"), up to four words.
        if (!first_blank) first_blank = p;
        uint32_t q = p;
        while (q < v_.seg_end && blank(v_.at(q))) ++q;
        uint32_t w = q;
        while (w < v_.seg_end && (IsWord(v_.at(w)) || v_.at(w) == '.' || v_.at(w) == '[' ||
                                  v_.at(w) == ']' || v_.at(w) >= 0x80))
          ++w;
        if (w == q || v_.at(w) == '=' || v_.at(w) == ':' || p - b > 48) break;
        // A name's next word is capitalised or a particle ("van der Sluis", not "Ann logged").
        if (*entity == Entity::kPersonName && !IsUpper(v_.at(q)) && v_.at(q) < 0xC3) {
          const std::string_view next = v_.sub(q, w);
          bool particle = false;
          for (std::string_view x :
               {"van", "von", "der", "den", "de",  "la", "le", "du",  "da",  "di", "del", "della",
                "dos", "das", "do",  "bin", "ibn", "al", "el", "ter", "ten", "zu", "y"})
            particle = particle || next == x;
          if (!particle) break;
        }
      }
      if (sep == ':' && ((flow && c == ',') || c == '}')) break;
      ++p;
    }
    // The longer value if it reads as a name, else its first word ("first_name=Ann logged in").
    if (first_blank && *entity == Entity::kPersonName && !IsNameValue(b, p, strict))
      p = first_blank;
    FieldValue(*entity, b, p, strict, line_key, address_key);
  }

  // Healthcare records by their segments, at a segment's first byte `s` (a line's start, or
  // after X12's '~'). HL7 v2 (PID, NK1, GT1, IN1, PV1): the fields that hold a person's name
  // (family^given^middle), address (street^other^city…), phone, birth date or SSN. X12 (837,
  // 270, 834): NM1 of a person (last*first*middle, an SSN as its id) and the N3, DMG and PER
  // segments after it. True when `s` began such a segment.
  bool RecordSegment(uint32_t s) {
    const unsigned char prev = v_.at(static_cast<int64_t>(s) - 1);
    if (!(prev == 0 || prev == '\n' || prev == '\r' || prev == '~')) return false;
    if (v_.at(s + 3) == '|') return Hl7Segment(s);
    if (v_.at(s) == 'N' && v_.at(s + 1) == 'M' && v_.at(s + 2) == '1' && v_.at(s + 3) == '*')
      return X12Person(s);
    return false;
  }

  enum class Hl7 : uint8_t { kNone, kName, kDoctor, kAddress, kPhone, kDate, kSsn };
  // The fields that hold a person's data, by segment and number (HL7 v2.5 chapters 3 and 6).
  struct Hl7FieldKind {
    std::string_view segment;
    int field;
    Hl7 kind;
  };
  static constexpr Hl7FieldKind kHl7Fields[] = {
      {"PID", 5, Hl7::kName},    {"PID", 6, Hl7::kName},     {"PID", 7, Hl7::kDate},
      {"PID", 9, Hl7::kName},    {"PID", 11, Hl7::kAddress}, {"PID", 13, Hl7::kPhone},
      {"PID", 14, Hl7::kPhone},  {"PID", 19, Hl7::kSsn},     {"NK1", 2, Hl7::kName},
      {"NK1", 4, Hl7::kAddress}, {"NK1", 5, Hl7::kPhone},    {"NK1", 6, Hl7::kPhone},
      {"NK1", 16, Hl7::kDate},   {"NK1", 37, Hl7::kSsn},     {"GT1", 3, Hl7::kName},
      {"GT1", 4, Hl7::kName},    {"GT1", 5, Hl7::kAddress},  {"GT1", 6, Hl7::kPhone},
      {"GT1", 7, Hl7::kPhone},   {"GT1", 8, Hl7::kDate},     {"GT1", 12, Hl7::kSsn},
      {"IN1", 16, Hl7::kName},   {"IN1", 18, Hl7::kDate},    {"IN1", 19, Hl7::kAddress},
      {"PV1", 7, Hl7::kDoctor},  {"PV1", 8, Hl7::kDoctor},   {"PV1", 9, Hl7::kDoctor},
      {"PV1", 17, Hl7::kDoctor},
  };
  bool Hl7Segment(uint32_t s) {
    const std::string_view id = v_.sub(s, s + 3);
    auto kind = [&](int f) {
      for (const Hl7FieldKind& k : kHl7Fields)
        if (k.field == f && k.segment == id) return k.kind;
      return Hl7::kNone;
    };
    if (id != "PID" && id != "NK1" && id != "GT1" && id != "IN1" && id != "PV1") return false;
    uint32_t p = s + 4;
    auto end_of_segment = [&](unsigned char c) { return c == '\r' || c == '\n' || c == 0; };
    for (int f = 1; f < 40 && p < v_.seg_end; ++f) {
      const uint32_t fb = p;
      while (p < v_.seg_end && v_.at(p) != '|' && !end_of_segment(v_.at(p))) ++p;
      const Hl7 k = kind(f);
      // Each repetition ('~') of the field, each component ('^') of it.
      for (uint32_t rb = fb; k != Hl7::kNone && rb < p;) {
        uint32_t re = rb;
        while (re < p && v_.at(re) != '~') ++re;
        Hl7Field(k, rb, re);
        rb = re + 1;
      }
      if (v_.at(p) != '|') break;
      ++p;
    }
    return true;
  }
  void Hl7Field(Hl7 k, uint32_t b, uint32_t e) {
    if (e <= b) return;
    if (k == Hl7::kPhone || k == Hl7::kDate || k == Hl7::kSsn) {
      uint32_t digits = 0;
      for (uint32_t i = b; i < e; ++i) digits += IsDigit(v_.at(i));
      if (k == Hl7::kPhone && digits >= 7 && digits <= 21) Emit(b, e, Entity::kPhone, 0.9f);
      if (k == Hl7::kSsn && digits == 9) Emit(b, e, Entity::kUsSsn, 0.9f);
      if (k == Hl7::kDate && digits >= 8 && IsDigit(v_.at(b))) {  // YYYYMMDD[HHMM[SS]]
        const int m = (v_.at(b + 4) - '0') * 10 + (v_.at(b + 5) - '0');
        const int d = (v_.at(b + 6) - '0') * 10 + (v_.at(b + 7) - '0');
        if (m >= 1 && m <= 12 && d >= 1 && d <= 31) Emit(b, e, Entity::kDateOfBirth, 0.9f);
      }
      return;
    }
    // Names: family^given^middle (XPN); a doctor's id first (XCN). Addresses: street^other.
    const int first = k == Hl7::kDoctor ? 1 : 0, last = k == Hl7::kAddress ? 1 : first + 2;
    uint32_t cb = b;
    for (int c = 0; c <= last && cb <= e; ++c) {
      uint32_t ce = cb;
      while (ce < e && v_.at(ce) != '^') ++ce;
      if (c >= first) {
        if (k == Hl7::kAddress)
          FieldValue(Entity::kStreetAddress, cb, ce, kAnyCase, false);
        else if (IsNameValue(cb, ce, kAnyCase))
          Emit(cb, ce, Entity::kPersonName, 0.9f);
      }
      cb = ce + 1;
    }
  }

  bool X12Person(uint32_t s) {
    // The elements of one segment from its first '*': element i in [eb[i], ee[i]).
    uint32_t eb[12], ee[12];
    auto elements = [&](uint32_t p, int* n) {
      *n = 0;
      while (*n < 12 && v_.at(p) == '*') {
        eb[*n] = ++p;
        while (p < v_.seg_end && v_.at(p) != '*' && v_.at(p) != '~' && v_.at(p) != '\n') ++p;
        ee[(*n)++] = p;
      }
      return p;
    };
    int n;
    uint32_t p = elements(s + 3, &n);
    if (n < 3 || v_.sub(eb[1], ee[1]) != "1") return true;  // not a person: an organisation
    for (int i = 2; i < std::min(n, 5); ++i)
      if (IsNameValue(eb[i], ee[i], kAnyCase)) Emit(eb[i], ee[i], Entity::kPersonName, 0.9f);
    if (n >= 9 && v_.sub(eb[7], ee[7]) == "34") Emit(eb[8], ee[8], Entity::kUsSsn, 0.9f);
    // The person's segments that follow: N3 (street), N4 (city), DMG (birth date), PER
    // (contact name and numbers), REF.
    for (int seg = 0; seg < 8; ++seg) {
      while (v_.at(p) == '~' || v_.at(p) == '\n' || v_.at(p) == '\r') ++p;
      uint32_t q = p;
      while (q < v_.seg_end && q - p < 4 && IsAlnum(v_.at(q))) ++q;
      const std::string_view sid = v_.sub(p, q);
      if (v_.at(q) != '*' ||
          !(sid == "N3" || sid == "N4" || sid == "DMG" || sid == "PER" || sid == "REF"))
        break;
      p = elements(q, &n);
      if (sid == "N3") {
        for (int i = 0; i < std::min(n, 2); ++i)
          FieldValue(Entity::kStreetAddress, eb[i], ee[i], kAnyCase, false);
      } else if (sid == "DMG" && n >= 2 && v_.sub(eb[0], ee[0]) == "D8") {
        Emit(eb[1], ee[1], Entity::kDateOfBirth, 0.9f);
      } else if (sid == "PER") {
        if (n >= 2 && IsNameValue(eb[1], ee[1], kAnyCase))
          Emit(eb[1], ee[1], Entity::kPersonName, 0.9f);
        for (int i = 2; i + 1 < n; i += 2) {
          const std::string_view q2 = v_.sub(eb[i], ee[i]);
          if (q2 == "TE" || q2 == "CP" || q2 == "FX" || q2 == "HP" || q2 == "WP")
            FieldValue(Entity::kPhone, eb[i + 1], ee[i + 1], kAnyCase, false);
        }
      }
    }
    return true;
  }

  // A field's value [b, e) as `entity`, when it is shaped like one.
  // Whether the "name" key at [k, pos) names a person: its object is under a people key
  // ("patient": {"name": …}, "customers": [{…}, {"name": …}]) or holds a person's contact data
  // ("email", "phone", "birth", "dob", "ssn", "address" within 300 bytes).
  bool PersonRecord(uint32_t k, uint32_t pos) const {
    // The unmatched '{' or '[' before i (strings are not skipped: a brace in a value may
    // misplace it, which at worst loses this context), or -1.
    auto enclosing = [&](int64_t i) {
      for (int depth = 0; i >= v_.seg_start && k - i < 2048; --i) {
        const unsigned char c = v_.at(i);
        if (c == '}' || c == ']') ++depth;
        if ((c == '{' || c == '[') && depth-- == 0) return i;
      }
      return int64_t{-1};
    };
    int64_t i = enclosing(static_cast<int64_t>(k) - 1);
    if (i >= 0 && v_.at(i) == '{') {
      // An array's element ([{…}, {"name": …}]): the array's key is the parent.
      int64_t j = i - 1;
      while (j > v_.seg_start && blank(v_.at(j))) --j;
      if (v_.at(j) == ',') j = enclosing(j - 1);
      if (j >= 0 && v_.at(j) == '[') i = j;
      --i;
      while (i > v_.seg_start && blank(v_.at(i))) --i;
      if (v_.at(i) == ':') --i;
      while (i > v_.seg_start && (blank(v_.at(i)) || v_.at(i) == '"')) --i;
      int64_t w = i + 1;
      while (w > v_.seg_start && IsWord(v_.at(w - 1))) --w;
      char norm[48];
      const std::string_view parent =
          v_.sub(static_cast<uint32_t>(w), static_cast<uint32_t>(i + 1));
      if (!parent.empty() && parent.size() < 40 &&
          catalog::IsPeopleTable(
              std::string_view(norm, catalog::NormalizeColumnName(parent, norm, sizeof(norm)))))
        return true;
    }
    const uint32_t b = pos > v_.seg_start + 300 ? pos - 300 : v_.seg_start;
    const uint32_t e = std::min<uint32_t>(v_.seg_end, pos + 300);
    for (uint32_t j = b; j + 3 <= e; ++j) {
      const char c = Lower(v_.at(j));
      if (c != 'e' && c != 'p' && c != 'b' && c != 'd' && c != 's' && c != 'a') continue;
      for (std::string_view w : {"email", "phone", "birth", "dob", "ssn", "address"}) {
        if (w[0] != c || j + w.size() > e || !EqualsLower(v_.sub(j, j + w.size()), w)) continue;
        // As a key ("email":, phone_number=, <DateOfBirth>), not inside a value
        // ("BaseAddress").
        uint32_t q = j + static_cast<uint32_t>(w.size());
        while (q < e && IsWord(v_.at(q))) ++q;
        while (q < e && (v_.at(q) == '"' || v_.at(q) == '\'' || blank(v_.at(q)))) ++q;
        if (v_.at(q) == ':' || v_.at(q) == '=' || v_.at(q) == '>') return true;
      }
    }
    return false;
  }

  // Where a quoted value from p ends: its closing quote q (or a line's end or a backslash,
  // where the caller finds no q). A doubled quote is one inside ('O''Reilly'), and an
  // apostrophe between letters is a name's ("'D'Amico'" written unescaped), not the end.
  uint32_t QuotedEnd(uint32_t p, unsigned char q) const {
    for (;; ++p) {
      while (p < v_.seg_end && v_.at(p) != q && v_.at(p) != '\\' && v_.at(p) != '\n') ++p;
      if (v_.at(p) == q && v_.at(p + 1) == q && p + 1 < v_.seg_end) {  // SQL's 'O''Reilly'
        ++p;
        continue;
      }
      if (!(q == '\'' && v_.at(p) == q && IsAlpha(v_.at(p - 1)) && IsAlpha(v_.at(p + 1)) &&
            p + 1 < v_.seg_end))
        return p;
    }
  }

  // `line_key`: FHIR's "line", a street only with a house number.
  // `shaped`: the key does not say the entity by itself ("address"), the value's shape must.
  void FieldValue(Entity entity, uint32_t b, uint32_t e, Strict strict, bool line_key,
                  bool shaped = false) {
    if (entity == Entity::kPhone) {
      // Digits in the characters phones are written with, form-encoded too (%28 %29 %2B, '+').
      uint32_t digits = 0;
      for (uint32_t i = b; i < e; ++i) {
        const unsigned char c = v_.at(i);
        if (c == '%' && i + 2 < e && IsHex(v_.at(i + 1)) && IsHex(v_.at(i + 2))) {
          i += 2;
        } else if (IsDigit(c)) {
          ++digits;
        } else if ((c == 'x' || c == 'X') && digits >= 7) {  // an extension: "+x5944"
        } else if (c == 'e' && digits >= 7 && v_.at(i + 1) == 'x' && v_.at(i + 2) == 't') {
          i += 2;
        } else if (!(blank(c) || c == '-' || c == '.' || c == '(' || c == ')' || c == '+' ||
                     c == '/')) {
          return;
        }
      }
      // Six digits are a local number where the key says phone ("phone: 389285").
      if (digits >= 6 && digits <= 21) EmitTrimmed(b, e, Entity::kPhone);
      return;
    }
    if (entity == Entity::kStreetAddress) {  // a street line, with or without its number
      if (shaped) {  // after "address:": the line as a street's shape has it
        while (b < e && blank(v_.at(b))) ++b;
        e = StreetLineEnd(b, e);
        if (const size_t n = StreetLineValue(v_.sub(b, e))) {
          e = b + static_cast<uint32_t>(n);
          while (e > b && blank(v_.at(e - 1))) --e;
          // A sentence's end, not an abbreviation's dot ("Suite 109!", "Pine Street.", "St.").
          while (e > b && (v_.at(e - 1) == '!' || v_.at(e - 1) == '?')) --e;
          if (e > b && v_.at(e - 1) == '.') {
            uint32_t w = e - 1;
            while (w > b && IsAlnum(v_.at(w - 1))) --w;
            if (e - 1 - w >= 4 || (w < e - 1 && IsDigit(v_.at(e - 2)))) --e;
          }
          // Under the street's own shape where it has one (0.85 with the address word): this
          // adds what it did not cover.
          Emit(b, e, Entity::kStreetAddress, 0.7f);
        }
        return;
      }
      const std::string_view w = v_.sub(b, e);
      if (e - b <= 120 &&
          (ScriptAddressValue(w) ||  // "建国路88号" in a vCard's ADR
           (std::any_of(w.begin(), w.end(), [](char c) { return IsAlpha(c); }) &&
            (!line_key || std::any_of(w.begin(), w.end(), [](char c) { return IsDigit(c); })))))
        EmitTrimmed(b, e, Entity::kStreetAddress);
      return;
    }
    if (!IsNameValue(b, e, strict)) return;
    // A title before the name is not the name ("contact: Ms. Chen").
    for (;;) {
      while (b < e && blank(v_.at(b))) ++b;
      uint32_t j = b;
      while (j < e && v_.at(j) != ' ' && v_.at(j) != '+') ++j;
      std::string_view w = v_.sub(b, j);
      if (w.ends_with('.')) w.remove_suffix(1);
      if (j >= e || !names::IsTitle(w)) break;
      b = j + 1;
    }
    EmitTrimmed(b, e, Entity::kPersonName);
  }
  static bool blank(unsigned char c) { return c == ' ' || c == '\t'; }

  // Where an address after its label ends in prose: at a sentence's end ("Tusarova 431. Please
  // ring twice", "9874 Grace Place. spoke with …"), not at an abbreviation's dot ("ul.
  // Mikołajczyk 41b", "Boberstr. 574", "Apt. 282").
  uint32_t StreetLineEnd(uint32_t b, uint32_t e) const {
    for (uint32_t i = b + 1; i + 2 < e; ++i) {
      if (v_.at(i) != '.' || v_.at(i + 1) != ' ' || !IsAlpha(v_.at(i + 2))) continue;
      uint32_t w = i;
      while (w > b && IsAlnum(v_.at(w - 1))) --w;
      bool digits = w < i;
      for (uint32_t k = w; k < i; ++k) digits = digits && IsDigit(v_.at(k));
      if (digits || i - w >= 4) return i;
    }
    return e;
  }

  // Whether [b, e) reads as a person's name (or a part of one): letters of any script with
  // spaces, hyphens, apostrophes, dots and form-encoded spaces, up to six words, not a
  // placeholder, and as `strict` asks.
  bool IsNameValue(uint32_t b, uint32_t e, Strict strict) const {
    while (b < e && blank(v_.at(b))) ++b;
    while (e > b && blank(v_.at(e - 1))) --e;
    if (e <= b || e - b > 80) return false;
    int words = 1;
    bool letter = false;
    for (uint32_t i = b; i < e; ++i) {
      const unsigned char c = v_.at(i);
      if (IsAlpha(c) || c >= 0x80) {
        letter = true;
      } else if (c == ' ' || c == '+') {
        words += v_.at(i - 1) != ' ' && v_.at(i - 1) != '+';
      } else if (!(c == '-' || c == '\'' || c == '.' || c == ',')) {
        return false;
      }
    }
    if (!letter || words > 6) return false;
    if (strict != kAnyCase) {  // a word of it capitalised ("van der Meij")
      bool cap = false;
      // … or, in a script that has no capitals, words as a name is written: single spaces, no
      // placeholder ("cn: 王秀英", "displayName: محمد علي"; not "--ftp-user=用户    设置").
      auto caseless = [&](uint32_t i) {
        if (v_.at(i) < 0xC6 || LetterAt(i).script != letters::Script::kOther) return false;
        const std::string_view value = v_.sub(b, e);
        return value.find("  ") == std::string_view::npos &&
               !IsNoName(value.substr(0, value.find(' ')));
      };
      for (uint32_t i = b; i < e && !cap; ++i)
        cap = (i == b || v_.at(i - 1) == ' ') &&
              (IsUpper(v_.at(i)) || (v_.at(i) >= 0xC3 && v_.at(i) <= 0xC5) || caseless(i));
      if (!cap) return false;
    }
    if (strict >= kRecord) {
      if (words > 4) return false;
      for (uint32_t i = b; i < e;) {
        uint32_t j = i;
        while (j < e && v_.at(j) != ' ' && v_.at(j) != '+') ++j;
        std::string_view word = v_.sub(i, j);
        while (!word.empty() && (word.back() == '.' || word.back() == ',')) word.remove_suffix(1);
        // A word alone in a person's record is the name ("name": "Park" beside an e-mail);
        // among others, a firm's or a team's word is not ("Acme Inc.", "Finance Team").
        if (words > 1 && (names::IsNonNameWord(word) || names::IsLegalForm(word))) return false;
        // A role's one word: a name the table knows, or one shaped as a name is (capital,
        // then lower case: not "GetAll", "UPONLY"), not an account's or a group's ("System").
        if ((strict == kRole || strict == kWeakRole) && words == 1) {
          if (names::IsNonNameWord(word)) return false;
          for (std::string_view x : {"admin", "administrator", "system", "root", "service", "bot",
                                     "everyone", "nobody", "unassigned", "guest", "user", "me",
                                     "self", "owner", "default", "public", "private"})
            if (EqualsLower(word, x)) return false;
          const names::TokenInfo t = names::Lookup(word);
          if (strict == kWeakRole && (!t.known() || t.word)) return false;
          if (!t.known()) {
            if (word.size() < 3) return false;
            for (size_t c = 1; c < word.size(); ++c)
              if (IsUpper(static_cast<unsigned char>(word[c]))) return false;
          }
        }
        i = j + 1;
      }
    }
    const std::string_view w = v_.sub(b, e);
    for (std::string_view x : {"null", "none", "nil", "true", "false", "n/a", "na", "unknown",
                               "undefined", "test", "anonymous", "redacted"})
      if (EqualsLower(w, x)) return false;
    return true;
  }
  void EmitTrimmed(uint32_t b, uint32_t e, Entity entity) {
    while (b < e && blank(v_.at(b))) ++b;
    while (e > b && blank(v_.at(e - 1))) --e;
    Emit(b, e, entity, 0.9f);
  }

  // Two to four capitalised words ending at `e` (exclusive).
  void NameBefore(uint32_t e) {
    int64_t i = e;
    int words = 0;
    uint32_t b = e;
    while (words < 4 && i > v_.seg_start) {
      int64_t w = i;
      while (w > v_.seg_start &&
             (IsAlpha(v_.at(w - 1)) || v_.at(w - 1) >= 0x80 || v_.at(w - 1) == '\'' ||
              v_.at(w - 1) == '-' || v_.at(w - 1) == '.'))
        --w;
      if (w == i || !(IsUpper(v_.at(w)) || v_.at(w) >= 0xC3)) break;
      b = static_cast<uint32_t>(w);
      ++words;
      if (v_.at(w - 1) != ' ') break;
      i = w - 1;
    }
    if (words >= 2 && !IsAlnum(v_.at(static_cast<int64_t>(b) - 1))) Emit(b, e, Entity::kPersonName);
  }

  // ---- The number lexer: digits joined by separators, read once, dispatched by shape. ----
  struct NumTok {
    uint32_t b = 0, e = 0;    // from '+', '(' or the first digit to the end of the last group
    uint32_t gb[12], ge[12];  // groups of digits
    char sep[12];             // separator before group i: ' ', '-', '.', '/', ')' (none: 0)
    int k = 0;                // groups
    uint32_t nd = 0;          // digits
    bool plus = false;
    int paren = -1;  // the group written in parentheses, if any
    char first_digit = 0, second_digit = 0, third_digit = 0;
    bool leading_zero = false;
    bool intl_cc = false;         // the first group is "00" and an assigned calling code
    bool trunk_in_paren = false;  // the second group is "(0)": "0046 (0)563-35 96 59"
  };

  // Reads a number token at s ('+', '(' or a digit). False if it is not one.
  bool ReadNumber(uint32_t s, NumTok* t) {
    uint32_t p = s;
    t->b = s;
    if (v_.at(p) == '+') {
      t->plus = true;
      ++p;
    }
    char pending = 0;
    while (t->k < 12 && p < v_.seg_end) {
      const bool open = v_.at(p) == '(' && t->paren < 0 && t->k <= 1;
      if (open) ++p;
      if (open && t->k == 0 && v_.at(p) == '+' && IsDigit(v_.at(p + 1))) {
        t->plus = true;  // "(+62) 21 5555 1234": the country code in parentheses
        ++p;
      }
      const uint32_t gb = p;
      while (p < v_.seg_end && IsDigit(v_.at(p))) ++p;
      if (p == gb || p - gb > 19) return t->k > 0 && p == gb;
      uint32_t inner = 0;  // "(8 46) 86 02 75": Lithuania's trunk and area code, spaced
      if (open && v_.at(p) == ' ' && IsDigit(v_.at(p + 1)) && p - gb == 1) {
        uint32_t q = p + 1;
        while (q < v_.seg_end && IsDigit(v_.at(q)) && q - p <= 3) ++q;
        if (v_.at(q) == ')') {
          inner = 1;
          p = q;
        }
      }
      if (open && v_.at(p) != ')') return false;  // "(123" without its ')'
      t->gb[t->k] = gb;
      t->ge[t->k] = p;
      t->sep[t->k] = pending;
      t->nd += p - gb - inner;
      if (open) {
        t->paren = t->k;
        ++p;
      }
      ++t->k;
      t->e = t->ge[t->k - 1];
      unsigned char c = v_.at(p);
      uint32_t q = p;
      if (c == ' ' || c == '-' || c == '.' || (c == '/' && !open)) {
        pending = static_cast<char>(c);
        ++q;
      } else if (c == '(' && t->k == 1 && t->paren < 0 && (t->plus || v_.at(t->gb[0]) == '0')) {
        // "+49(450)43 83", "0048(05)8641456", "06(71)893-867": the area code right after the
        // country code or the trunk prefix
        pending = ' ';
      } else if (open) {
        pending = ')';
      } else {
        break;
      }
      unsigned char nx = v_.at(q);
      if (!(IsDigit(nx) || (nx == '(' && t->k <= 1))) break;
      p = q;
    }
    return t->k > 0;
  }

  // Whether groups [from, to) all have separator `c` before them.
  static bool SepsAre(const NumTok& t, int from, int to, char c) {
    for (int i = from; i < to; ++i)
      if (t.sep[i] != c) return false;
    return true;
  }

  // The international prefix written out, "00" and a country code, spaced groups after it:
  // "0033 1 23 45 67 89", "0044 20 7946 0958". The score of the first m groups, or 0.
  static float InternationalPrefixShape(const NumTok& t, int m) {
    uint32_t nd = 0;
    for (int i = 0; i < m; ++i) nd += t.ge[i] - t.gb[i];
    const uint32_t first = t.ge[0] - t.gb[0];
    // The trunk 0 kept in parentheses after the code, as Europe writes it for callers from
    // both sides of the border: "0046 (0)563-35 96 59", "0049 (0) 30 1234 5678".
    if (t.trunk_in_paren && !t.plus && t.intl_cc && t.sep[1] == ' ' && m >= 3) {
      if (t.sep[2] != ')' && t.sep[2] != ' ' && t.sep[2] != '-') return 0;
      for (int i = 3; i < m; ++i)
        if (t.sep[i] != ' ' && t.sep[i] != '-') return 0;
      const uint32_t rest = nd - first - 1;
      return rest >= 7 && rest <= 12 ? 0.7f : 0;
    }
    // Two groups: "00" and an assigned country code, then the number in one run of 6-14
    // digits ("0039 087446380834"), as a phone column or a form may hold it.
    if (m == 2 && !t.plus && t.paren < 0 && t.sep[1] == ' ' && t.ge[1] - t.gb[1] >= 6 &&
        nd - 2 >= 9 && nd - 2 <= 15)
      return t.intl_cc ? 0.7f : 0;
    // One separator throughout: spaces, or dashes ("001-137-319-5672") or dots.
    if (t.plus || t.paren >= 0 || m < 3 || first < 3 || first > 5 || t.first_digit != '0' ||
        t.second_digit != '0' || t.third_digit == '0' ||
        !(SepsAre(t, 1, m, ' ') || SepsAre(t, 1, m, '-') || SepsAre(t, 1, m, '.')))
      return 0;
    return nd - 2 >= 8 && nd - 2 <= 15 ? 0.7f : 0;
  }

  // The phone shapes people write (masker/GATES.md): returns the score of the first m groups
  // of t as a phone, 0 if they do not have one. Validation is not asked: shape first.
  static float PhoneShape(const NumTok& t, int m) {
    uint32_t nd = 0;
    for (int i = 0; i < m; ++i) nd += t.ge[i] - t.gb[i];
    auto len = [&](int i) { return t.ge[i] - t.gb[i]; };
    int slashes = 0, slash_at = 0;
    for (int i = 1; i < m; ++i)
      if (t.sep[i] == '/') ++slashes, slash_at = i;
    if (slashes > 1) return 0;  // a date, a path, a fraction
    if (slashes == 1) {
      // An area code, then a slash: "071/881 60 13", "030/12345678", "+36 20/974-4645".
      const bool trunk =
          !t.plus && t.paren < 0 && t.leading_zero && slash_at == 1 && len(0) >= 2 && len(0) <= 5;
      const bool intl = t.plus && t.paren < 0 && slash_at == 2 && len(0) <= 3 && len(1) <= 4;
      if (!trunk && !intl) return 0;
      for (int i = slash_at + 1; i < m; ++i)
        if (t.sep[i] != ' ' && t.sep[i] != '-') return 0;
      if (nd < 8 || nd > 13) return 0;
      return trunk ? 0.65f : 0.75f;
    }
    if (t.plus) {  // +CC with grouping, or E.164; 7 digits grouped for the smallest plans
      // ("+683 1686", Niue); 8 or 9 ungrouped after a country code ("+46593634")
      if (nd < 7 || nd > 15 || (nd == 7 && (m < 2 || len(0) > 3))) return 0;
      return (m >= 2 || nd >= 10 || (nd >= 8 && t.first_digit != '0')) ? 0.75f : 0;
    }
    if (const float intl = InternationalPrefixShape(t, m)) return intl;
    // (area) rest, also after a trunk or country digit written without '+': "8 (987) 188-16-01"
    // (Russia), "1 (800) 555-0199".
    // … or after a trunk prefix or "00" and a country code: "06(71)893-867" (Hungary),
    // "0 (547) 923 00 56" (Turkey), "0048(05)8641456".
    const int a = t.paren;
    if (a == 0 ||
        (a == 1 && len(0) == 1 && t.sep[1] == ' ' &&
         (t.first_digit == '1' || t.first_digit == '7' || t.first_digit == '8')) ||
        (a == 1 && t.first_digit == '0' && len(0) <= 4 && t.sep[1] == ' ')) {
      const uint32_t na = nd - (a == 1 ? len(0) : 0);
      if (m < a + 2 || na < 8 || na > 13 || len(a) < 2 || len(a) > 5) return 0;
      for (int i = a + 3; i < m; ++i)
        if (t.sep[i] != t.sep[a + 2]) return 0;
      return 0.75f;
    }
    if (t.paren > 0) return 0;
    if (m < 2 || nd < 9 || nd > 12) return 0;
    const char sep = t.sep[1];
    // Canada's French style, a space after the area code: "514 555-0199", "1 514 555-0199".
    if ((m == 3 && len(0) == 3 && len(1) == 3 && len(2) == 4 && sep == ' ' && t.sep[2] == '-') ||
        (m == 4 && len(0) == 1 && t.first_digit == '1' && len(1) == 3 && len(2) == 3 &&
         len(3) == 4 && sep == ' ' && t.sep[2] == ' ' && t.sep[3] == '-'))
      return 0.7f;
    // Whole countries' own ways, strong enough bare: France's ten digits in pairs, one
    // separator ("01.23.45.67.89", "06-12-34-56-78"); Russia's trunk 8 (or its code 7, no '+')
    // and a 3-digit code, 11 digits ("8-800-818-4405", "8 916 123 45 67", "8 916 123-45-67");
    // China's mobiles in 3-4-4 ("138-0013-8000").
    auto spaced_or_dashed = [&](int from) {
      for (int i = from; i < m; ++i)
        if (t.sep[i] != ' ' && t.sep[i] != '-') return false;
      return true;
    };
    if (m == 5 && nd == 10 && t.leading_zero && t.second_digit != '0' && SepsAre(t, 1, m, sep) &&
        len(0) == 2 && len(1) == 2 && len(2) == 2 && len(3) == 2 && len(4) == 2)
      return 0.75f;
    if (nd == 11 && len(0) == 1 && (t.first_digit == '8' || t.first_digit == '7') && len(1) == 3 &&
        len(2) == 3 && t.sep[2] == sep && spaced_or_dashed(1) &&
        ((m == 4 && len(3) == 4) || (m == 5 && len(3) == 2 && len(4) == 2)))
      return 0.75f;
    if (m == 3 && nd == 11 && t.first_digit == '1' && t.second_digit >= '3' && len(0) == 3 &&
        len(1) == 4 && len(2) == 4 && spaced_or_dashed(1) && t.sep[2] == sep)
      return 0.75f;
    // Sweden's trunk and area code, a dash, then spaced groups: "070-123 45 67", "08-123 456 78".
    if (t.leading_zero && m >= 3 && sep == '-' && SepsAre(t, 2, m, ' ') && len(0) >= 2 &&
        len(0) <= 4 && nd <= 10) {
      bool groups = true;
      for (int i = 1; i < m; ++i) groups = groups && len(i) >= 2 && len(i) <= 3;
      if (groups) return 0.65f;
    }
    if (!SepsAre(t, 1, m, sep)) return 0;  // one separator throughout
    // NANP 3-3-4 (and 1-3-3-4) with dashes or dots.
    if ((sep == '-' || sep == '.') && ((m == 3 && len(0) == 3 && len(1) == 3 && len(2) == 4) ||
                                       (m == 4 && len(0) == 1 && t.first_digit == '1' &&
                                        len(1) == 3 && len(2) == 3 && len(3) == 4)))
      return 0.75f;
    if (m == 3 && len(0) == 3 && len(1) == 2 && len(2) == 4) return 0;  // SSN-shaped
    for (int i = 1; i < m; ++i)
      if (len(i) < 2) return 0;
    // A trunk prefix: 0800 462 8064, 020 7946 0958, 016977 9727, 07 9727 1492 (not a ZIP+4
    // such as 05549-0346).
    if (t.leading_zero && len(0) >= 2 && len(0) <= 6 &&
        !(m == 2 && len(0) == 5 && len(1) == 4 && sep == '-'))
      return 0.65f;
    // National groupings: 970.310.133, 946 280 645, 48-703-10-13, 06 70 31 01 33.
    if (m < 3 || len(0) < 2 || len(0) > 3) return 0;
    if (sep == '.' && m != 3) return 0;  // 4-part dotted: versions and addresses
    for (int i = 1; i + 1 < m; ++i)
      if (len(i) > 3) return 0;
    if (len(m - 1) > 4) return 0;
    return 0.6f;
  }

  // Whether the digits at `at` stand free as a phone's start: not glued to a word, a decimal,
  // a path, a sign, a '#' or an amount; a CSV field's comma before them, not a decimal's
  // ("1,1 (…").
  bool FreeBefore(uint32_t at) const {
    const unsigned char c = v_.at(static_cast<int64_t>(at) - 1);
    return !IsAlnum(c) && c != '.' && c != '-' && c != '/' && c != '+' && c != '#' && c != '$' &&
           c != '_' && (c != ',' || !IsDigit(v_.at(static_cast<int64_t>(at) - 2)));
  }

  // A number token found by the prefilter at s (a digit, '(' or '+').
  void NumberAt(uint32_t s, uint32_t* skip_until, uint32_t* card_skip) {
    if (s < *skip_until) return;
    if (IsUpper(v_.at(s))) {  // [A-Z]{2}\d{2} at a word start: an IBAN whose BBAN has letters
      uint32_t end = 0;
      if (IbanFrom(s, &end)) *skip_until = end;
      return;
    }
    uint32_t st = s;
    if (IsDigit(v_.at(s))) {
      unsigned char c1 = v_.at(static_cast<int64_t>(s) - 1);
      if (c1 == '(' || c1 == '+') st = s - 1;
      if (c1 == '+' && v_.at(static_cast<int64_t>(s) - 2) == '(') st = s - 2;  // (+62) …
      // "+1 (284) 914 0104": the +CC before the parenthesis.
      if (c1 == '(' && v_.at(static_cast<int64_t>(s) - 2) == ' ') {
        int64_t k = static_cast<int64_t>(s) - 3;
        while (k > v_.seg_start && IsDigit(v_.at(k)) && s - k < 7) --k;
        if (v_.at(k) == '+' && k + 3 < s) st = static_cast<uint32_t>(k);
      }
      if (st != s && st < *skip_until) return;
      // Letters right before: an IBAN ("DE89 3704…", "GB82 WEST 1234…") or a NINO. A run
      // that follows a group of capitals and digits and is neither is the tail of some other
      // code (an invalid IBAN, a tracking number): not a number of its own.
      if (IsAlnum(v_.at(static_cast<int64_t>(s) - 1)) ||
          v_.at(static_cast<int64_t>(s) - 1) == ' ') {
        if (Lettered(s, skip_until)) return;
        if (v_.at(static_cast<int64_t>(s) - 1) == ' ' && s >= v_.seg_start + 5) {
          bool code = true, capital = false;
          for (uint32_t k = s - 5; k < s - 1; ++k) {
            code = code && (IsUpper(v_.at(k)) || IsDigit(v_.at(k)));
            capital = capital || IsUpper(v_.at(k));
          }
          if (code && capital && !IsAlnum(v_.at(static_cast<int64_t>(s) - 6))) return;
        }
      }
    }
    if (v_.at(st) == '+' && v_.at(static_cast<int64_t>(st) - 1) == '(') --st;  // (+62) …
    // "+49(450)43 83", "+1(601)427 1053", "+1 (284) 914 0104": the +CC before the parenthesis.
    if (v_.at(st) == '(') {
      int64_t k = static_cast<int64_t>(st) - 1;
      if (v_.at(k) == ' ') --k;
      while (k > v_.seg_start && IsDigit(v_.at(k)) && st - k <= 4) --k;
      if (v_.at(k) == '+' && IsDigit(v_.at(k + 1)) && !IsAlnum(v_.at(k - 1))) {
        if (static_cast<uint32_t>(k) < *skip_until) return;
        st = static_cast<uint32_t>(k);
      } else if (v_.at(static_cast<int64_t>(st) - 1) == '+' &&
                 !IsAlnum(v_.at(static_cast<int64_t>(st) - 2))) {
        // "+(370) 83138167": the country code itself in the parentheses, the '+' before them.
        if (st - 1 < *skip_until) return;
        --st;
      } else if (const int64_t d = static_cast<int64_t>(st) - 2;
                 v_.at(d + 1) == ' ' &&
                 (v_.at(d) == '1' || v_.at(d) == '7' || v_.at(d) == '8' || v_.at(d) == '0')) {
        // A trunk or country digit without '+' before the area code: "8 (987) 188-16-01",
        // "0 (547) 923 00 56"; a CSV field's comma before it, not a decimal's ("1,1 (…").
        if (FreeBefore(static_cast<uint32_t>(d))) {
          if (static_cast<uint32_t>(d) < *skip_until) return;
          st = static_cast<uint32_t>(d);
        }
      } else if (IsDigit(v_.at(st - 1))) {
        // A trunk prefix or "00" and a country code glued to it: "06(71)893-867",
        // "0048(05)8641456".
        int64_t g = static_cast<int64_t>(st) - 1;
        while (g > v_.seg_start && IsDigit(v_.at(g - 1)) && st - g < 4) --g;
        if (v_.at(g) == '0' && FreeBefore(static_cast<uint32_t>(g))) {
          if (static_cast<uint32_t>(g) < *skip_until) return;
          st = static_cast<uint32_t>(g);
        }
      }
    }
    // "0046 (0)563-35 96 59", "0049 (0) 30 1234 5678": found at the area code; "00", the
    // country code and the trunk 0 in parentheses come before it.
    if (IsDigit(v_.at(st))) {
      int64_t k = static_cast<int64_t>(st) - 1;
      if (v_.at(k) == ' ') --k;
      if (v_.at(k) == ')' && v_.at(k - 1) == '0' && v_.at(k - 2) == '(' && v_.at(k - 3) == ' ') {
        const int64_t e = k - 4;  // the code's last digit
        int64_t g = e;
        while (g > v_.seg_start && IsDigit(v_.at(g - 1)) && e - g < 4) --g;
        if (e - g >= 2 && v_.at(g) == '0' && v_.at(g + 1) == '0' &&
            FreeBefore(static_cast<uint32_t>(g))) {
          if (static_cast<uint32_t>(g) < *skip_until) return;
          st = static_cast<uint32_t>(g);
        }
      }
    }
    NumTok t;
    if (!ReadNumber(st, &t)) {
      // "(0803 123 4567)": a whole number in parentheses, not an area code in them.
      if (v_.at(st) != '(' || !IsDigit(v_.at(st + 1))) return;
      t = NumTok{};
      if (!ReadNumber(st + 1, &t)) return;
    }
    t.first_digit = static_cast<char>(v_.at(t.gb[0]));
    t.second_digit = static_cast<char>(v_.at(t.gb[0] + 1));
    t.third_digit = static_cast<char>(v_.at(t.gb[0] + 2));
    t.leading_zero = t.first_digit == '0';
    if (t.first_digit == '0' && t.second_digit == '0' && t.third_digit != '0' &&
        t.ge[0] - t.gb[0] >= 3 && t.ge[0] - t.gb[0] <= 5) {
      int cc = 0;
      for (uint32_t i = t.gb[0] + 2; i < t.ge[0]; ++i) cc = cc * 10 + (v_.at(i) - '0');
      t.intl_cc = validate::CountryCallingCode(cc);
    }
    t.trunk_in_paren = t.paren == 1 && t.ge[1] - t.gb[1] == 1 && v_.at(t.gb[1]) == '0';
    *skip_until = t.e;
    const unsigned char before = v_.at(static_cast<int64_t>(t.b) - 1);
    const unsigned char after = v_.at(t.e);
    // Glued to a word ("SKU-12345", "v1.2.3", "12345XL"), or part of a decimal or amount.
    // A decimal part: "12345.67", "1.234,56" (a comma then exactly two digits; CSV commas
    // between numbers are not decimals).
    bool thousands = t.k == 1 && t.nd <= 6;  // 1234,56 or 1.234.567,89
    if (t.k > 1 && SepsAre(t, 1, t.k, '.')) {
      thousands = t.ge[0] - t.gb[0] <= 3;
      for (int i = 1; i < t.k; ++i) thousands = thousands && t.ge[i] - t.gb[i] == 3;
    }
    auto decimal_comma = [&](uint32_t c) {
      return thousands && v_.at(c) == ',' && IsDigit(v_.at(c + 1)) && IsDigit(v_.at(c + 2)) &&
             !IsDigit(v_.at(c + 3));
    };
    if (!t.plus && t.paren < 0 && !IsAlnum(before) && before != '_' && NationalIdShape(t)) return;
    // An extension glued to a grouped number, as Python's Faker and many CRMs write it:
    // "281-098-3336x90204", "(767)463-2794x8619".
    uint32_t ext_end = 0;
    if ((after == 'x' || after == 'X') && t.k >= 2 && t.nd >= 7) {
      uint32_t q = t.e + 1;
      while (q < v_.seg_end && q - t.e <= 6 && IsDigit(v_.at(q))) ++q;
      if (q > t.e + 1 && q - t.e <= 6 && !IsAlnum(v_.at(q)) && v_.at(q) != '_') ext_end = q;
    }
    if ((IsAlnum(after) || after == '_') && !ext_end) return;
    if ((after == '.' && IsDigit(v_.at(t.e + 1))) || decimal_comma(t.e)) return;
    // "+20210509" after a version ("2.52+20210509"): a build's date, not E.164.
    if (t.plus && (IsAlnum(before) || before == '.' || before == '-' || before == '+' ||
                   before == '/' || before == '_'))
      return;
    if (!t.plus && t.paren < 0) {
      if (IsAlnum(before) || before == '_' || before == '$' || before == '#') return;
      if ((before == '-' || before == '.' || before == '/' || before == ':') &&
          IsAlnum(v_.at(static_cast<int64_t>(t.b) - 2)))
        return;
    }
    auto len = [&](int i) { return t.ge[i] - t.gb[i]; };
    if (!t.plus && t.paren < 0) {
      // (Not France's ten digits in dotted pairs, which no address has: "01.23.45.67.89".)
      if (t.k >= 4 && SepsAre(t, 1, 4, '.') && len(0) <= 3 && len(1) <= 3 && len(2) <= 3 &&
          len(3) <= 3 && !(t.k == 5 && t.nd == 10 && t.leading_zero && t.second_digit != '0')) {
        Ipv4(t.ge[0]);
        return;
      }
      bool long_group = false;
      for (int i = 0; i < t.k; ++i) long_group = long_group || len(i) >= 13;
      if (t.nd >= 13 && (t.k == 1 || len(0) == 4 || long_group)) {
        const size_t before = out_->size();
        CardRun(t.gb[0] + 1, card_skip);
        // Not a card: a phone with its international prefix may still be ("0044 20 7946 0958").
        if (out_->size() == before)
          if (const float intl = InternationalPrefixShape(t, t.k))
            Emit(t.b, t.e, Entity::kPhone, intl);
        return;
      }
      if (t.k >= 3 && SepsAre(t, 1, 3, '-') && len(0) == 3 && len(1) == 2 && len(2) == 4 &&
          (t.k == 3 || t.sep[3] != '-')) {
        SsnDashed(t.ge[2]);
        return;
      }
      if (t.k >= 3 && SepsAre(t, 1, 3, ' ') && len(0) == 3 && len(1) == 3 && len(2) == 4) {
        SpacedTen(t.ge[2]);
        return;
      }
    }
    // Phones: the whole token, then without trailing groups ("415-867-5309 1234").
    for (int m = t.k; m >= 1; --m) {
      float score = PhoneShape(t, m);
      if (score > 0) {
        Emit(t.b, m == t.k && ext_end ? ext_end : t.ge[m - 1], Entity::kPhone, score);
        return;
      }
    }
  }

  // National ids written in their own shapes, whose check digits hold: Aadhaar 4-4-4, CPF
  // 3.3.3-2, China's 18-character resident id, France's NIR (spaced 1 2 2 2 3 3 2, or 15
  // digits), South Africa's 13 digits, Korea's RRN 6-7, Sweden's personnummer 6-4 or 8-4. True
  // if it emitted one.
  bool NationalIdShape(const NumTok& t) {
    auto len = [&](int i) { return t.ge[i] - t.gb[i]; };
    char d[24];
    size_t n = 0;
    for (int i = 0; i < t.k && n + len(i) <= 20; ++i)
      for (uint32_t q = t.gb[i]; q < t.ge[i]; ++q) d[n++] = static_cast<char>(v_.at(q));
    if (n != t.nd) return false;
    const std::string_view digits(d, n);
    uint32_t end = t.e;
    float score = 0;
    if (t.k == 1 && (t.nd == 17 || t.nd == 18)) {
      const unsigned char x = v_.at(t.e);
      if (t.nd == 17 && (x == 'X' || x == 'x') && !IsAlnum(v_.at(t.e + 1))) {
        d[n++] = 'X';
        end = t.e + 1;
      }
      if (n == 18 && !IsAlnum(v_.at(end)) && validate::CnResidentId({d, n})) score = 0.9f;
    } else if (IsAlnum(v_.at(t.e)) || v_.at(t.e) == '_') {
      return false;
    } else if (t.k == 3 && len(0) == 4 && len(1) == 4 && len(2) == 4 && t.sep[1] == t.sep[2] &&
               (t.sep[1] == ' ' || t.sep[1] == '-')) {
      if (validate::InAadhaar(digits)) score = 0.85f;
    } else if (t.k == 4 && len(0) == 3 && len(1) == 3 && len(2) == 3 && len(3) == 2 &&
               t.sep[1] == '.' && t.sep[2] == '.' && t.sep[3] == '-') {
      if (validate::BrCpf(digits)) score = 0.9f;
    } else if (t.nd == 15 && (t.k == 1 || (t.k == 7 && SepsAre(t, 1, 7, ' ') && len(0) == 1 &&
                                           len(1) == 2 && len(2) == 2 && len(3) == 2 &&
                                           len(4) == 3 && len(5) == 3 && len(6) == 2))) {
      if (validate::FrNir(digits)) score = t.k == 1 ? 0.75f : 0.9f;
    } else if (t.k == 1 && t.nd == 13) {
      if (validate::ZaId(digits)) score = 0.75f;
    } else if (t.k == 2 && t.sep[1] == '-' && len(0) == 6 && len(1) == 7) {
      if (validate::KrRrn(digits) && validate::KrRrnCheck(digits)) score = 0.8f;
    } else if (t.k == 2 && t.sep[1] == '-' && (len(0) == 6 || len(0) == 8) && len(1) == 4) {
      if (validate::SePersonnummer(digits)) score = 0.85f;
    }
    if (score == 0) return false;
    Emit(t.b, end, Entity::kNationalId, score);
    return true;
  }

  // After a national-id keyword ("Aadhaar", "CPF", "PESEL", "BSN", "DNI", "NIR", "身份证" …): a
  // value of letters and digits, separators inside. One whose check holds scores high; one with
  // seven or more digits (Singapore's S1234567D has seven) is what the text calls it.
  // `rfc`: the keyword is Mexico's RFC, whose value starts with 3-4 letters (not "RFC 8446
  // 4.1.2", a standard's section).
  void NationalIdAfterKeyword(uint32_t p, bool rfc = false) {
    char c[24];
    size_t n = 0, digits = 0;
    uint32_t e = p;
    while (e < v_.seg_end && n < 22) {
      const unsigned char x = v_.at(e);
      if (IsAlnum(x)) {
        c[n++] = static_cast<char>(IsLower(x) ? x - 32 : x);
        digits += IsDigit(x);
        ++e;
      } else if (x == 0xC3 && (v_.at(e + 1) == 0x91 || v_.at(e + 1) == 0xB1)) {
        c[n++] = 'N';  // Ñ, in Mexico's RFC and CURP ("PUÑU830924…")
        e += 2;
      } else if ((x == ' ' || x == '-' || x == '.' || x == '/') && n > 0 && IsDigit(v_.at(e + 1)) &&
                 (x != ' ' || IsDigit(v_.at(e - 1)) ||
                  (n == 2 && !IsDigit(c[0]) && !IsDigit(c[1])))) {
        ++e;  // "536 22 1234", and a space after two leading letters ("ZZ 996030 T")
      } else if (((x == ' ' && IsUpper(v_.at(e + 1))) || (x == '-' && IsAlpha(v_.at(e + 1)))) &&
                 n >= 6 && IsDigit(v_.at(e - 1)) && !IsAlnum(v_.at(e + 2))) {
        // A final letter of its own: "… 996030 T", Spain's "95537429-Y", Chile's "7462292-K".
        c[n++] = static_cast<char>(IsLower(v_.at(e + 1)) ? v_.at(e + 1) - 32 : v_.at(e + 1));
        e += 2;
        break;
      } else if (x == '(' && n > 0 && IsAlnum(v_.at(e + 1)) && v_.at(e + 2) == ')') {
        c[n++] = static_cast<char>(v_.at(e + 1));  // Hong Kong's check digit: "A123456(7)"
        digits += IsDigit(v_.at(e + 1));
        e += 3;
        break;
      } else {
        break;
      }
    }
    if (n < 6 || IsAlnum(v_.at(e))) return;
    if (rfc && (n < 12 || n > 13 || IsDigit(c[0]) || IsDigit(c[1]) || IsDigit(c[2]))) return;
    // 3-2-4 dashed is the US national id, the SSN: its own resolver names it.
    if (e - p == 11 && v_.at(p + 3) == '-' && v_.at(p + 6) == '-') return;
    // After its label the number is the label's, in whatever shape a country or a generator
    // gives it: six digits and more (Colombia's cédulas start at six), up to 22 characters,
    // or 8-13 letters and digits (Mexico's RFC, "XEDC031202WSJ", is 13).
    if (validate::NationalId({c, n}))
      Emit(p, e, Entity::kNationalId, 0.9f);
    else if ((digits >= 7 || digits == n) || LabeledDocument({c, n}, 8, 13))
      Emit(p, e, Entity::kNationalId, 0.7f);
  }

  // A document's number as a label introduces it: n to m letters and digits, four digits or
  // more among them, and a letter (numbers of digits alone have their own checks).
  static bool LabeledDocument(std::string_view s, size_t n, size_t m) {
    if (s.size() < n || s.size() > m) return false;
    size_t digits = 0;
    for (char c : s) {
      if (!IsAlnum(static_cast<unsigned char>(c))) return false;
      digits += IsDigit(static_cast<unsigned char>(c));
    }
    return digits >= 4 && digits < s.size();
  }

  // Numbers with letters right before them: IBANs and UK NI numbers.
  bool Lettered(uint32_t s, uint32_t* skip_until) {
    // NINO: AB123456C, AB 12 34 56 C.
    {
      int64_t q = static_cast<int64_t>(s) - 1;
      if (v_.at(q) == ' ') --q;
      if (IsUpper(v_.at(q)) && IsUpper(v_.at(q - 1)) && !IsAlnum(v_.at(q - 2))) {
        uint32_t p = s, digits = 0;
        while (p < v_.seg_end && digits < 6 && (IsDigit(v_.at(p)) || v_.at(p) == ' ')) {
          digits += IsDigit(v_.at(p));
          ++p;
        }
        if (digits == 6) {
          size_t before = out_->size();
          Nino(p);
          if (out_->size() > before) {
            *skip_until = out_->back().end;
            return true;
          }
        }
      }
    }
    // IBAN: [A-Z]{2}\d{2} (or [a-z]{2}\d{2}) at a word boundary, at most 40 bytes back over
    // letters, digits and spaces.
    for (int64_t q = static_cast<int64_t>(s) - 1; q >= v_.seg_start && s - q <= 40; --q) {
      unsigned char c = v_.at(q);
      if (!(IsAlnum(c) || c == ' ')) break;
      const bool cc =
          (IsUpper(c) && IsUpper(v_.at(q + 1))) || (IsLower(c) && IsLower(v_.at(q + 1)));
      if (cc && IsDigit(v_.at(q + 2)) && IsDigit(v_.at(q + 3)) && !IsAlnum(v_.at(q - 1)) &&
          q + 2 <= s) {
        uint32_t end = 0;
        if (IbanFrom(static_cast<uint32_t>(q), &end, s + 1)) {
          *skip_until = end;
          return true;
        }
      }
      if (IsUpper(c) && !IsUpper(v_.at(q - 1)) && !IsDigit(v_.at(q - 1)) && v_.at(q - 1) != ' ')
        break;
    }
    return false;
  }

  // A phone after a phone keyword: any 7 to 15 digit number, whatever its shape.
  void PhoneAfterKeyword(uint32_t p) {
    unsigned char c = v_.at(p);
    if (!(IsDigit(c) || c == '+' || c == '(')) return;
    NumTok t;
    if (!ReadNumber(p, &t)) return;
    // An area code set off by a slash, as German numbers were written: "030 / 123 45 67".
    const uint32_t slash = v_.at(t.e) == '/' ? t.e : v_.sub(t.e, t.e + 3) == " / " ? t.e + 1 : 0;
    if (slash && t.k == 1 && t.nd >= 2 && t.nd <= 5) {
      const uint32_t q = v_.at(slash + 1) == ' ' ? slash + 2 : slash + 1;
      NumTok rest;
      if (IsDigit(v_.at(q)) && ReadNumber(q, &rest) && !IsAlnum(v_.at(rest.e)) &&
          t.nd + rest.nd >= 7 && t.nd + rest.nd <= 15)
        Emit(t.b, rest.e, Entity::kPhone, 0.85f);
      return;
    }
    // Six digits, in groups of two or three or in one run: the plans of Luxembourg, Iceland's
    // neighbours and many islands ("Tel. 77 33 96", "phone: 725 099", "mobile 389285"), after
    // the label only.
    bool six = t.nd == 6 && !t.plus && t.paren < 0;
    for (int i = 0; six && t.k >= 2 && i < t.k; ++i)
      six = t.ge[i] - t.gb[i] >= 2 && (i == 0 || t.sep[i] == ' ');
    if (IsAlnum(v_.at(t.e)) || (t.nd < 7 && !six) || t.nd > 15) return;
    if ((v_.at(t.e) == '.' || v_.at(t.e) == ',') && IsDigit(v_.at(t.e + 1))) return;
    // Dates are not phones: 2024-05-12, 12/05/2024 (but 340 29 266 is one).
    const uint32_t g0 = t.ge[0] - t.gb[0];
    if (t.k == 3 && t.nd == 8 && !t.plus && t.paren < 0 && (g0 == 4 || g0 == 2) &&
        t.ge[1] - t.gb[1] == 2 && t.sep[1] != ' ')
      return;
    Emit(t.b, t.e, Entity::kPhone, 0.85f);
  }

  // ---- Person names in free text: a run of capitalised words, scored by names.h. ----
  struct NameTok {
    uint32_t b, e;
    bool initial, particle, caps;
  };

  // Reads a word at p: ASCII letters and the letters of other scripts (letters.h), with inner
  // apostrophes and hyphens. Returns its end, or p if there is no word. A word never ends
  // inside a letter: a name span cut there would leave the rest of the name in the output.
  uint32_t ReadWord(uint32_t p, bool* upper_first, bool* all_upper) const {
    uint32_t q = p;
    bool first = true;
    *all_upper = true;
    *upper_first = false;
    while (q < v_.seg_end) {
      unsigned char c = v_.at(q);
      if (IsAlpha(c)) {
        if (first) *upper_first = IsUpper(c);
        if (IsLower(c)) *all_upper = false;
        ++q;
      } else if (c == 0xE2 && v_.at(q + 1) == 0x80 && v_.at(q + 2) == 0x99 && q > p &&
                 (IsAlpha(v_.at(q + 3)) || LetterAt(q + 3).len)) {
        q += 3;  // O’Brien, Дем’ян: the typographic apostrophe (U+2019) inside a word
      } else if (c >= 0x80) {
        const letters::Letter l = LetterAt(q);
        if (!l.len) break;
        if (first) *upper_first = l.upper;
        if (!l.upper) *all_upper = false;
        q += l.len;
      } else if ((c == '\'' || c == '-') && q > p &&
                 (IsAlpha(v_.at(q + 1)) || LetterAt(q + 1).len)) {
        ++q;
      } else {
        break;
      }
      first = false;
    }
    return q;
  }
  letters::Letter LetterAt(uint32_t q) const {
    if (q >= v_.seg_end) return {};
    return letters::At(reinterpret_cast<const unsigned char*>(v_.p) + q, v_.seg_end - q);
  }
  static bool IsParticle(std::string_view w) {
    static constexpr std::string_view kParticles[] = {
        "van", "von", "de", "del", "della", "der", "den", "di",  "da",  "dos", "das",
        "do",  "du",  "la", "le",  "bin",   "al",  "y",   "ten", "ter", "e",   "zu"};
    for (std::string_view x : kParticles)
      if (x == w) return true;
    return false;
  }

  // A name in a script without capitals (王小明, محمود بن حمودة, ნოზაძე) inside other text: one
  // to three words of that script. Scored under the bar, so only context keeps it: a name word
  // before it ("Thanks,", "customer") or a speech verb after it ("… wrote:").
  void UncasedNameAt(uint32_t s, uint32_t* skip_until) {
    uint32_t p = s, e = s;
    for (int words = 0; words < 3; ++words) {
      uint32_t q = p, letters = 0;
      while (letters < 24) {
        const letters::Letter l = LetterAt(q);
        if (!l.len || l.script != letters::Script::kOther) break;
        q += l.len;
        ++letters;
      }
      if (letters == 0 || IsAlnum(v_.at(q)) || LetterAt(q).len) break;
      e = q;
      if (v_.at(q) != ' ') break;
      const letters::Letter next = LetterAt(q + 1);
      if (!next.len || next.script != letters::Script::kOther) break;
      p = q + 1;
    }
    if (e == s) return;
    // A label, not a name: one a colon or a value follows ("患者：", "电话 138 0013 8000").
    const unsigned char a = v_.at(e);
    if (a == ':' || (a == 0xEF && v_.at(e + 1) == 0xBC && v_.at(e + 2) == 0x9A) ||
        (a == ' ' && (IsDigit(v_.at(e + 1)) || v_.at(e + 1) == '+')))
      return;
    *skip_until = e;
    Emit(s, e, Entity::kPersonName, 0.4f);
  }

  // The word that ends at e (at most `most` letters, after no letter or digit): its start, or e.
  uint32_t WordEndingAt(uint32_t e, uint32_t most) const {
    uint32_t b = e;
    while (b > v_.seg_start && e - b <= most && IsAlpha(v_.at(b - 1))) --b;
    if (e - b > most || (b > v_.seg_start && IsAlnum(v_.at(b - 1)))) return e;
    return b;
  }

  // The end of a greeting, a copy line or who a message is from, right before s ("Hi Ingrid,",
  // "cc: AKI DALKIRAN", "Note from Moa Mårtensson"), or 0. Read here and not by the keyword
  // database: short literals there (and "from") slow every keyword scan by a sixth to a half.
  uint32_t GreetingBefore(uint32_t s) const {
    uint32_t e = s;
    // "Hi Ingrid", "Hi, Ingrid", "cc: Ana", "Hello\tIngrid"
    auto sep = [](unsigned char c) { return c == ' ' || c == ':' || c == ',' || c == '\t'; };
    while (e > v_.seg_start && s - e < 3 && sep(v_.at(e - 1))) --e;
    if (e == s) return 0;
    const uint32_t b = WordEndingAt(e, 5);
    if (b == e) return 0;
    const std::string_view w = v_.sub(b, e);
    for (std::string_view g : {"hi", "hello", "hey", "cc", "bcc"})
      if (EqualsLower(w, g)) return e;
    // "from" alone precedes places ("Shipment from Nowa Sól"): only after a message's name.
    if (!EqualsLower(w, "from") || b < v_.seg_start + 2 ||
        (v_.at(b - 1) != ' ' && v_.at(b - 1) != '_'))
      return 0;
    const uint32_t nb = WordEndingAt(b - 1, 10);
    if (nb == b - 1) return 0;
    std::string_view noun = v_.sub(nb, b - 1);
    if (noun.size() > 1 && (noun.back() == 's' || noun.back() == 'S')) noun.remove_suffix(1);
    for (std::string_view m : {"note", "message", "email", "mail", "letter", "call", "reply",
                               "response", "feedback", "complaint", "voicemail", "memo", "text",
                               "invitation", "referral", "greeting", "update", "request"})
      if (EqualsLower(noun, m)) return e;
    return 0;
  }

  // Where the next cell's capitalised word starts when a delimiter follows the word ending at
  // e ("Aarav,Sharma", "Ann;Lee"), also quoted as CSV and SQL value lists quote them
  // ("\"Ann\",\"Lee\"", "'Ann', 'Lee'"); 0 if none.
  uint32_t NextCell(uint32_t e) const {
    const unsigned char q = v_.at(e);
    const bool quoted = q == '\'' || q == '"';
    if (quoted) ++e;
    const unsigned char d = v_.at(e);
    if (d != ',' && d != ';' && d != '|' && d != '\t') return 0;
    ++e;
    if (quoted) {
      if (v_.at(e) == ' ') ++e;
      if (v_.at(e) != q) return 0;
      ++e;
    }
    return IsUpper(v_.at(e)) ? e : 0;
  }

  // Whether the value at s is a key's that names a place: "city: ", "town=", "\"country\":\"",
  // "<Locality>", "billing_city: " (the key's last word, as for columns: catalog.h).
  bool PlaceKeyBefore(uint32_t s) const {
    int64_t q = static_cast<int64_t>(s) - 1;
    auto at = [&](int64_t k) { return k >= v_.seg_start ? v_.at(k) : 0; };
    while (q >= v_.seg_start && s - q <= 2 && (at(q) == ' ' || at(q) == '"' || at(q) == '\'')) --q;
    if (at(q) != ':' && at(q) != '=' && at(q) != '>') return false;
    --q;
    if (at(q) == '"' || at(q) == '\'') --q;
    const int64_t e = q + 1;
    while (q >= v_.seg_start && e - q <= 24 && IsAlpha(at(q))) --q;
    if (e - q - 1 < 4) return false;
    char buf[24];
    const std::string_view key =
        Folded(static_cast<uint32_t>(q + 1), static_cast<uint32_t>(e), buf, sizeof(buf));
    for (std::string_view w : catalog::PlaceColumnWords())
      if (key == w) return true;
    return false;
  }

  void NameAt(uint32_t s, uint32_t* skip_until) {
    if (s < v_.seg_start) return;
    // The run that held the greeting ("Hi Ingrid") skips the name after it: read it first.
    if (const uint32_t kw = GreetingBefore(s)) PersonKeyword(kw);
    if (s < *skip_until) return;
    if (PlaceKeyBefore(s)) return;  // "city: Le Havre", "\"town\":\"La Rochelle\""
    if (v_.at(s) >= 0x80) {
      const letters::Letter l = LetterAt(s);
      if (l.len && l.script == letters::Script::kOther) return UncasedNameAt(s, skip_until);
    }
    NameTok tk[7];
    int n = 0;
    int comma_after = -1;  // "Rippin, Lola": the comma follows token 0
    // "Aarav,Sharma,+91-98200-12345": two words a delimiter joins with no space, as a CSV line
    // of a contact pasted as text writes them. Only a contact's other data beside them makes
    // them a name ("Paris,France" is none).
    bool delimited = false;
    uint32_t p = s;
    while (n < 7 && p < v_.seg_end) {
      bool up = false, caps = false;
      uint32_t e = ReadWord(p, &up, &caps);
      if (e == p) break;
      NameTok t{p, e, false, false, false};
      std::string_view w = v_.sub(p, e);
      if (up && e - p == 1) {  // an initial: "J." or "J"
        t.initial = true;
        if (v_.at(e) == '.') t.e = ++e;
      } else if (up) {
        t.caps = caps;
      } else if (n > 0 && IsParticle(w) && v_.at(e) == ' ') {
        t.particle = true;
      } else {
        break;
      }
      if (IsDigit(v_.at(e)) || v_.at(e) == '_') break;  // "TA9", "HY172": codes, not names
      tk[n++] = t;
      if (v_.at(e) == ' ') {
        p = e + 1;
      } else if (t.initial && v_.at(e - 1) == '.' && IsUpper(v_.at(e)) &&
                 std::all_of(tk, tk + n, [](const NameTok& x) { return x.initial; })) {
        p = e;  // initials written together, leading the name: "J.R.R. Tolkien"
      } else if (v_.at(e) == ',' && v_.at(e + 1) == ' ' && n == 1 && !t.initial) {
        comma_after = 0;
        p = e + 2;
      } else if (const uint32_t next = n == 1 && !t.initial && !delimited ? NextCell(e) : 0) {
        delimited = true;
        p = next;
      } else {
        break;
      }
      if (delimited && n == 2) break;
    }
    while (n > 0 && tk[n - 1].particle) --n;
    // A cell of more words after the delimiter ("Acct,Jane Doe") is read from its own start.
    if (delimited && (n < 2 || v_.at(tk[1].e) == ' ')) return;
    if (n < 2) return;  // one word is never a name by itself here
    // "Wintheiser Lebsack and Hayes", "Smith & Sons": a firm. Not when a given name and another
    // capitalised word follow: "Björn Ulvaeus and Benny Andersson" are two people.
    {
      uint32_t e = tk[n - 1].e;
      if (v_.sub(e, std::min(e + 5, v_.seg_end)) == " and " ||
          v_.sub(e, std::min(e + 3, v_.seg_end)) == " & ") {
        const uint32_t o = e + (v_.at(e + 1) == '&' ? 3 : 5);
        bool up = false, caps = false;
        const uint32_t oe = IsUpper(v_.at(o)) ? ReadWord(o, &up, &caps) : o;
        bool up2 = false;
        if (oe > o && v_.at(oe) == ' ') ReadWord(oe + 1, &up2, &caps);
        const names::TokenInfo next = names::LookupGiven(v_.sub(o, oe));
        // "John Smith and I live in Boston": a pronoun after `and` is the sentence going on.
        bool pronoun = false;
        for (std::string_view w : {"I", "We", "You", "He", "She", "They", "It", "My", "Our", "His",
                                   "Her", "Their", "Then", "Thanks"})
          pronoun = pronoun || v_.sub(o, oe) == w;
        if (oe > o && !pronoun && !(up2 && next.given && !next.word)) {
          *skip_until = e;
          return;
        }
      }
    }
    // After a house number the words are a street ("966 Marie Spurs"); after a year, a date,
    // a time or a range they are not ("Copyright 2007-2020 Sebastian Dröge", "2024-01-05 John
    // Smith logged in"): a name there is still one.
    if (v_.at(static_cast<int64_t>(s) - 1) == ' ' && IsDigit(v_.at(static_cast<int64_t>(s) - 2))) {
      int64_t k = static_cast<int64_t>(s) - 2;
      while (k > v_.seg_start && IsDigit(v_.at(k - 1)) && s - k < 8) --k;
      const int64_t len = static_cast<int64_t>(s) - 1 - k;
      const unsigned char lead = v_.at(k - 1);
      const bool year =
          len == 4 && !IsAlnum(lead) &&
          ((v_.at(k) == '1' && v_.at(k + 1) == '9') || (v_.at(k) == '2' && v_.at(k + 1) == '0'));
      // The end of a date, a time or a range: "2024-01-05", "22:21:59", "2007-2020".
      const bool joined =
          (lead == '-' || lead == ':' || lead == '/' || lead == '.') && IsDigit(v_.at(k - 2));
      // An id ("Employee #4471 Kowalczyk, Agnieszka"), not a house number.
      const bool id = lead == '#';
      if (!year && !joined &&
          !id) {  // a house number, or digits glued to a code ("829bd141 Merge")
        *skip_until = tk[n - 1].e;
        return;
      }
    }
    // Short all-caps words among capitalised ones are acronyms ("Raleigh DB"): the run ends there.
    bool mixed = false;
    for (int k = 0; k < n; ++k) mixed = mixed || (!tk[k].caps && !tk[k].initial && !tk[k].particle);
    if (mixed) {
      for (int k = 1; k < n; ++k) {
        if (tk[k].caps && tk[k].e - tk[k].b <= 4) {
          n = k;
          break;
        }
      }
      if (n < 2) return;
    }
    *skip_until = tk[n - 1].e;
    // Split the run at titles and words that are not names; score each piece of 2+ tokens. The
    // run's last word stays when it is a common surname after a given name ("Troy Hall").
    auto splits = [&](int k, std::string_view w) {
      if (tk[k].initial || tk[k].particle || !(names::IsTitle(w) || names::IsNonNameWord(w)))
        return false;
      if (k != n - 1 || k == 0) return true;
      int g = k - 1;
      if (tk[g].initial && g > 0) --g;
      return !names::WordSurname(v_.sub(tk[g].b, tk[g].e), w);
    };
    int i = 0;
    bool titled = false;
    while (i < n) {
      std::string_view w = v_.sub(tk[i].b, tk[i].e);
      if (w.back() == '.') w.remove_suffix(1);
      if (splits(i, w)) {
        titled = names::IsTitle(w);
        ++i;
        continue;
      }
      int j = i;
      while (j < n) {
        std::string_view x = v_.sub(tk[j].b, tk[j].e);
        if (x.back() == '.') x.remove_suffix(1);
        if (splits(j, x)) break;
        ++j;
      }
      // Pieces of more than four tokens: their first two to four, five where a particle is
      // among them ("María García de la Cruz"). Returns the score emitted.
      auto piece = [&](int from) -> float {
        int most = 4;
        for (int k = from + 1; k < std::min(j, from + 4); ++k) most = tk[k].particle ? 5 : most;
        for (int len = std::min(j - from, most); len >= 2; --len) {
          names::Token toks[5];
          bool caps = true;
          for (int k = 0; k < len; ++k) {
            toks[k] = {v_.sub(tk[from + k].b, tk[from + k].e), tk[from + k].initial,
                       tk[from + k].particle};
            caps = caps && (tk[from + k].caps || tk[from + k].initial || tk[from + k].particle);
          }
          names::RunForm form = comma_after == from && len == 2 ? names::RunForm::kLastFirst
                                : caps                          ? names::RunForm::kAllCaps
                                                                : names::RunForm::kFirstLast;
          if (comma_after == from && len > 2) continue;
          if (toks[len - 1].initial) continue;
          float score = names::ScoreRun({toks, static_cast<size_t>(len)}, form);
          if (titled && from == i) score += 0.15f;
          // Cells of a CSV line are capitalised words of every kind ("Red,Large", "ACME;
          // Widgets", HL7's "VERNA|SPO", "Madison,Toronto"): a known given name, then a known
          // surname, neither in capitals.
          if (delimited) {
            const bool caps = tk[from].caps || tk[from + 1].caps;
            const bool known =
                names::Lookup(toks[0].text).given > 0 && names::Lookup(toks[1].text).surname > 0;
            score = !caps && known ? std::min(score, 0.42f) : 0;
          }
          // Below 0.5 only context can keep it (a name word before it, the column's hint).
          if (score >= 0.38f && delimited) {  // a cell each: the line keeps its fields
            Emit(tk[from].b, tk[from].e, Entity::kPersonName, score);
            Emit(tk[from + 1].b, tk[from + 1].e, Entity::kPersonName, score);
            return score;
          }
          if (score >= 0.38f) {
            Emit(tk[from].b, tk[from + len - 1].e, Entity::kPersonName, std::min(score, 0.95f));
            return score;
          }
        }
        return 0;
      };
      // A firm named after people ("Pitney Bowes Inc.", "Henry Schein, Inc."): no person.
      // The legal form may end the run or follow a word or two of the firm's trade ("Texas
      // Instruments Incorporated", "Gentiva Health Services Inc.").
      bool firm = false;
      for (int k = i + 1; k < std::min(n, j + 3) && !firm; ++k)
        firm = names::IsLegalForm(v_.sub(tk[k].b, tk[k].e));
      if (!firm && std::min(n, j + 3) == n && v_.at(tk[n - 1].e) == ',' &&
          v_.at(tk[n - 1].e + 1) == ' ') {
        uint32_t f = tk[n - 1].e + 2, fe = f;
        while (fe < v_.seg_end && fe - f < 12 && (IsAlpha(v_.at(fe)) || v_.at(fe) == '.')) ++fe;
        firm = fe > f && IsUpper(v_.at(f)) && names::IsLegalForm(v_.sub(f, fe));
      }
      if (firm) {
        i = j;
        titled = false;
        continue;
      }
      // A capitalised word that is no given name may start a sentence ("Patient Maria
      // Garcia-Lopez was seen"): the run after it is scored too, and the better one wins.
      const float whole = piece(i);
      // "Signed, Robert Brown", "Rippin, Lola Mae": more words after the comma's pair are read
      // as a name too; overlapping names are joined into one.
      if (comma_after == i && j - i >= 3) piece(i + 1);
      const names::TokenInfo first = names::Lookup(v_.sub(tk[i].b, tk[i].e));
      if (whole < 0.5f && j - i >= 3 && !tk[i].initial && !tk[i].particle && first.given == 0) {
        // Only when a common given name, or a rarer one that is no common word, follows
        // ("Quick Brown Fox" is not a name).
        const names::TokenInfo next = names::Lookup(v_.sub(tk[i + 1].b, tk[i + 1].e));
        if ((next.given >= 2 || (next.given > 0 && !next.word)) && piece(i + 1) > 0 && whole > 0 &&
            first.surname > 0 && !first.word) {
          // Both read as names and the first word is a family name ("Đinh Hương Dương", family
          // name first): the better-scored shorter run would leave it out. It starts the name.
          out_->back().start = tk[i].b;
        }
      }
      titled = false;
      i = j;
    }
  }

  void PersonKeyword(uint32_t to) {
    // `user="Gianni Bani"` (logfmt quotes a value with spaces): the pattern ends after the
    // quote, so that `user=postgres` costs the keyword scan nothing; the keyword is `user`.
    if (to >= v_.seg_start + 2 && v_.at(to - 1) == '"' && v_.at(to - 2) == '=') to -= 2;
    // The keyword itself: a name label ("name", "customer_name") lets a lower-case name
    // follow ("name: mary jane watson"); a title lets a surname stand alone ("Ms. Chen").
    uint32_t kb = to;
    while (kb > v_.seg_start && (IsAlpha(v_.at(kb - 1)) || v_.at(kb - 1) == '.')) --kb;
    std::string_view kw = v_.sub(kb, to);
    while (!kw.empty() && kw.back() == '.') kw.remove_suffix(1);
    auto ends = [&](std::string_view x) {
      return kw.size() >= x.size() && EqualsLower(kw.substr(kw.size() - x.size()), x);
    };
    // A whole word ("Dr. Okafor", "Ms Chen"), not the start of "Drive", "Mrsa" or "Drève".
    bool title = false;
    if (!IsAlpha(v_.at(to)) && v_.at(to) < 0x80)
      for (std::string_view t :
           {"mr", "mrs", "ms", "dr", "prof", "herr", "frau", "mme", "madame", "monsieur"})
        title = title || EqualsLower(kw, t);
    const bool label = ends("name");
    // A sign-off lets a known given name end the message alone ("Thanks, Anna", "Best,\nAnna").
    uint32_t st = to;
    if (st > v_.seg_start && v_.at(st - 1) == ',') --st;
    uint32_t sb = st;
    while (sb > v_.seg_start && IsAlpha(v_.at(sb - 1))) --sb;
    bool signoff = false;
    for (std::string_view w : {"thanks", "regards", "sincerely", "cheers", "best"})
      signoff = signoff || EqualsLower(v_.sub(sb, st), w);
    // A greeting lets a known given name stand alone ("Hi Ingrid,", "Dear Bob").
    const bool greeting = kw.size() <= 5 && (EqualsLower(kw, "dear") || EqualsLower(kw, "hi") ||
                                             EqualsLower(kw, "hello") || EqualsLower(kw, "hey"));
    uint32_t p = to;
    while (p < v_.seg_end) {
      // "customer_name", "name", "Drève" – but not "Mr" immediately followed by the name, nor
      // what follows a keyword in another script ("customer：李华", "Contact：Иван").
      const unsigned char c = v_.at(p);
      if (IsAlpha(c) || c == '_') {
        if (IsUpper(c) && v_.at(p - 1) == ' ') break;
        ++p;
        continue;
      }
      if (c < 0x80) break;
      const letters::Letter l = LetterAt(p);
      if (!l.len || l.script != letters::Script::kLatin) break;
      p += l.len;
    }
    const uint32_t word_end = p;
    bool assigned = false;
    for (int k = 0; k < 6 && p < v_.seg_end; ++k) {
      unsigned char c = v_.at(p);
      if (c == ' ' || c == '\t' || c == ':' || c == '=' || c == '"' || c == '\'' || c == '.' ||
          c == ',') {
        assigned = assigned || c == ':' || c == '=';
        ++p;
      } else {
        break;
      }
    }
    const bool lower_ok = label && assigned;
    // A word of another script glued to the keyword ("OWNED BY选项") is the same phrase, not a
    // name after it.
    if ((p == to || IsAlpha(v_.at(p - 1))) && v_.at(p) >= 0xC6) return;
    // A keyword inside a longer word ("ms" in "mstype", "dr" in "dry") names no one in another
    // script after it; a label may ("debug_name_type" no, "customer_name" yes).
    if (v_.at(p) >= 0xC6 && word_end != to && !EndsWithLower(v_.sub(kb, word_end), "name")) return;
    // A name typed in lower case after the keyword ("patient john smith, dob …", "spoke to
    // maria garcia-lopez"): only a known given name that is first a name and a known surname.
    if (!lower_ok && !title && IsLower(v_.at(p))) return LowerCaseName(p);
    // A letter of another script (Greek, Cyrillic, Hebrew, Arabic, CJK, Hangul …): UTF-8 lead
    // bytes from U+0180 up; such names have no capitals.
    auto other_script = [&](uint32_t at) {  // a letter: not "”", "」" or "："
      const unsigned char c = v_.at(at);
      if (c < 0xC6 || c > 0xF4 || v_.at(at + 1) < 0x80 || v_.at(at + 1) > 0xBF) return false;
      const letters::Letter l = LetterAt(at);
      return l.len && l.script != letters::Script::kLatin;
    };
    auto starts_word = [&](uint32_t at) {
      const unsigned char c = v_.at(at);
      return IsUpper(c) || (c >= 0xC3 && c <= 0xC5) || other_script(at) || (lower_ok && IsLower(c));
    };
    const uint32_t b = p;
    int words = 0, lower_words = 0;
    bool foreign = false;
    uint32_t e = p;
    while (words < 4) {
      uint32_t w = e;
      if (!starts_word(w)) break;
      foreign = foreign || other_script(w);
      lower_words += IsLower(v_.at(w)) ? 1 : 0;
      unsigned char c = v_.at(w);
      w += c >= 0x80 ? 2 : 1;
      uint32_t letters = 0;
      while (w < v_.seg_end) {
        const unsigned char x = v_.at(w), next = v_.at(w + 1);
        if (IsAlpha(x) || x >= 0x80) {  // "McDonald", "HELIN MENSAH" after a label too
          ++w;
        } else if ((x == '\'' || x == '-') && (IsAlpha(next) || next >= 0x80)) {
          w += 2;  // inner apostrophes and hyphens, before either case: "O'Brien", "Jean-Baptiste"
        } else {
          break;
        }
        ++letters;
      }
      if (letters == 0) {
        if (v_.at(w) != '.') break;  // a middle initial "M."
        ++w;
      }
      ++words;
      e = w;
      if (v_.at(e) != ' ') break;
      if (!starts_word(e + 1)) {
        // A particle between capitalised words: "Mathuys van Buuren", "Juan de la Cruz".
        uint32_t q = e + 1;
        for (int k = 0; k < 3; ++k) {  // at most three: "de la", "van der"
          uint32_t pe = q;
          while (pe < v_.seg_end && pe - q < 5 && IsLower(v_.at(pe))) ++pe;
          if (pe == q || v_.at(pe) != ' ' || !IsParticle(v_.sub(q, pe))) break;
          q = pe + 1;
          if (starts_word(q) && !IsLower(v_.at(q))) break;
        }
        if (q == e + 1 || !starts_word(q) || IsLower(v_.at(q))) break;
        e = q;
        continue;
      }
      ++e;
    }
    if (words == 0 || IsAlnum(v_.at(e))) return;
    // One word: a surname after a title ("Ms. Chen"), or a name in a script that writes it
    // without spaces (王小明) or after "Dear" (Иван).
    if (words == 1 && !title && !foreign) {
      // After a sign-off the name ends its line or text (`Thanks, Anna.`), not `Thanks, Team
      // for …`.
      const unsigned char x = v_.at(e) == '.' || v_.at(e) == '!' ? v_.at(e + 1) : v_.at(e);
      const bool ends = x == 0 || x == '\n' || x == '\r' || x == '"' ||
                        (x == '\\' && v_.at(e + 1) == 'n') || e == v_.seg_end;
      if (!greeting && !(signoff && ends)) return;
      const names::TokenInfo t = names::LookupGiven(v_.sub(b, e));
      // A word no table knows, between a greeting and a comma ("Hi Kabiru,", "Hi Sørina,"): a
      // given name of a country the American tables miss, unless greetings address it.
      // So is one that ends the message after a sign-off ("Kind regards, Nomvula").
      const bool addressed = ((greeting && v_.at(e) == ',') || (signoff && ends)) && !t.given &&
                             !t.word && e - b >= 3 && !names::IsNonNameWord(v_.sub(b, e)) &&
                             !names::IsTitle(v_.sub(b, e)) && !IsAddressedGroup(v_.sub(b, e));
      if (!addressed && (!t.given || (t.word && t.given < 2))) return;  // "Dear Bob", "Hi Will,"
    }
    if (lower_words > 0 && (words < 2 || words > 3)) return;
    // "customer Web Engineer", "contact Support Team": words that are not names. After a title
    // and a known given name they are the surname ("Dr. Gregory House", "Mrs. Anna Brown").
    uint32_t fe = b;
    while (fe < e && v_.at(fe) != ' ') ++fe;
    const names::TokenInfo first_word = names::LookupGiven(v_.sub(b, fe));
    const bool titled_given = title && words >= 2 && first_word.given > 0 && !first_word.word;
    for (uint32_t w = b; w < e;) {
      uint32_t x = w;
      while (x < e && v_.at(x) != ' ') ++x;
      std::string_view word = v_.sub(w, x);
      if (!word.empty() && word.back() == '.') word.remove_suffix(1);
      // The last word may be a common surname that is also a word ("name: Troy Hall").
      const bool surname = w > b && x == e && names::WordSurname(v_.sub(b, fe), word);
      const bool initial = w > b && word.size() == 1;  // "Lida M. Ball": not "M." (Monsieur)
      if (!surname && !initial &&
          (names::IsTitle(word) || (names::IsNonNameWord(word) && !(titled_given && w > b))))
        return;
      // Capitals inside a word: a name's ("McDonald", "MacArthur", "DeVries") or all of them
      // ("CASPAR SMIEJA"), but not an identifier ("SecretAccessKey") or SQL ("SET DL = …").
      int inner = 0, lower = 0;
      bool ascii = true;  // identifiers are; "FranjićAbramić" (two surnames run together) is not
      size_t last_inner = 0;
      for (size_t k = 0; k < word.size(); ++k) {
        const unsigned char ch = static_cast<unsigned char>(word[k]);
        lower += IsLower(ch);
        ascii = ascii && ch < 0x80;
        if (k > 0 && IsUpper(ch) && word[k - 1] != '-' && word[k - 1] != '\'') {
          ++inner;
          last_inner = k;
        }
      }
      if (ascii && lower > 0 && (inner > 1 || (inner == 1 && last_inner != 2 && last_inner != 3)))
        return;
      if (lower == 0 && IsSqlWord(word)) return;
      if (lower_words > 0) {
        for (std::string_view ph : {"unknown", "none", "null", "anonymous", "test", "user", "admin",
                                    "guest", "default", "example", "sample", "n/a"})
          if (word == ph) return;
      }
      w = x + 1;
    }
    Emit(b, e, Entity::kPersonName);
  }

  // The street line after a phrase that says where someone lives or where a parcel or bill
  // goes (catalog.cc), read as an address key's value is (StreetLineValue: a house number
  // beside a word, whatever the words): "lives at Družstevná 9.", "your parcel to 472 Sílvia
  // Rodovia is on its way", "Ship to: Gael Valentín, Vaca  48 1 5, Hidalgo del Norte". Whom
  // it goes to may stand first (below). The line ends at the sentence: a verb after the
  // street, or a full stop that ends the line or follows the house number.
  void StreetAfter(uint32_t to) {
    uint32_t p = to;
    while (p < v_.seg_end && p - to < 3 && (v_.at(p) == ':' || v_.at(p) == ' ')) ++p;
    uint32_t le = p;
    while (le < v_.seg_end && le - p < 120 && v_.at(le) != '\n' && v_.at(le) != '\r' &&
           v_.at(le) != ';' && v_.at(le) != '"') {
      const std::string_view rest = v_.sub(le, std::min(le + 6, v_.seg_end));
      if (rest.starts_with(" is ") || rest.starts_with(" was ") || rest.starts_with(" has ") ||
          rest.starts_with(" will "))
        break;
      const unsigned char c = v_.at(le), n = v_.at(le + 1);
      if ((c == '.' || c == '!' || c == '?') &&
          (le + 1 >= v_.seg_end || n == '\n' || n == '\r' ||
           (n == ' ' && (c != '.' || IsDigit(v_.at(le - 1))))))
        break;
      ++le;
    }
    // Whom it goes to, before a comma: a part with no digit, then the street with its words
    // first ("Gael Valentin, Vaca  48 1 5", "Пејо Милеуснић, Булевар Цара Душана 88"), or two
    // to four capitalised words, then one with its number first ("Meelis Allik, 12 Main
    // Street"); not the street's own words before its number ("Polígono Lilia, 29", "улица
    // Вихрен, 336").
    uint32_t b = p;
    auto capital = [&](uint32_t q) {
      return IsUpper(v_.at(q)) ||
             (v_.at(q) == 0xC3 && v_.at(q + 1) >= 0x80 && v_.at(q + 1) <= 0x9E);
    };
    for (uint32_t q = p, words = 1, caps = capital(p); q + 2 < le && q - p < 64; ++q) {
      const unsigned char c = v_.at(q);
      if (IsDigit(c)) break;
      if (c == ' ' && v_.at(q - 1) != ',') ++words, caps += capital(q + 1);
      if (c == ',' && v_.at(q + 1) == ' ') {
        const uint32_t r = q + 2;
        uint32_t d = r;
        while (d < le && !IsDigit(v_.at(d))) ++d;
        // A house number standing alone after the comma is the first part's own ("улица
        // Вихрен, 336, Town"); a number before words starts a street ("191 Прошков View").
        uint32_t de = d;
        while (de < le && IsDigit(v_.at(de))) ++de;
        const bool own_number = de >= le || v_.at(de) == ',';
        if (d < le && (d > r ? v_.at(r) != ' '
                             : words <= 4 && (caps == words || !own_number) &&
                                   StreetLineValue(v_.sub(r, le))))
          b = r;
        break;
      }
    }
    if (b >= le) return;
    const size_t n = StreetLineValue(v_.sub(b, le));
    if (!n) return;
    uint32_t e = b + static_cast<uint32_t>(n);
    // The town after the house number, as a script's address reads to the value's end
    // ("Михајла Пупина 23, Ваљево"): up to the first comma after the last digit.
    uint32_t last_digit = e;
    for (uint32_t q = b; q < e; ++q)
      if (IsDigit(v_.at(q))) last_digit = q;
    for (uint32_t q = last_digit; q + 1 < e; ++q)
      if (v_.at(q) == ',' && v_.at(q + 1) == ' ') {
        e = q;
        break;
      }
    while (e > b && (v_.at(e - 1) == ' ' || v_.at(e - 1) == ',')) --e;
    // Prose after the number ("shipped to Slovakia 12 units", "ship to 354 Kaeki Grv
    // today"): no street line ends in a lower-case word here.
    if (EndsInLowerWord(v_.sub(b, e))) return;
    // … and the flat or floor after it ("Forges Marina 9, Appartamento 70").
    Emit(b, std::min(UnitsAfter(e), le), Entity::kStreetAddress, 0.8f);
  }

  // A person named after a label or a title in a script other than Latin (catalog.cc: "姓名：",
  // "Клиент:", "العميل:", "नाम:", "ชื่อ:"; "尊敬的", "श्री", "السيد", "Уважаемый"): such names
  // have no capitals and no table here knows them, so the label is the evidence. A label needs
  // a colon after it (':' or '：'), a title only the end of its word. The name is one to
  // three words of one script, or one or two runs of two to five Han, kana or Hangul letters
  // (which write no space inside a name); a longer run ("北京科技有限公司") is no name, and
  // neither is a value that says there is none ("未知", "нет").
  // Bytes of the space at q: ASCII, U+00A0, U+3000 (the ideographic space); 0 for none.
  uint32_t SpaceAt(uint32_t q) const {
    const unsigned char c = v_.at(q);
    if (c == ' ' || c == '\t') return 1;
    if (c == 0xC2 && v_.at(q + 1) == 0xA0) return 2;
    return c == 0xE3 && v_.at(q + 1) == 0x80 && v_.at(q + 2) == 0x80 ? 3 : 0;
  }

  // Bytes of the colon at q: ':' or the fullwidth '：' (U+FF1A); 0 for none.
  uint32_t ColonAt(uint32_t q) const {
    if (v_.at(q) == ':') return 1;
    return v_.at(q) == 0xEF && v_.at(q + 1) == 0xBC && v_.at(q + 2) == 0x9A ? 3 : 0;
  }

  // Where the value after a label ending at `to` starts: past spaces, one colon (':' or '：')
  // and spaces, with the quotes of a JSON key and value around them ("姓名": "王秀英"); or right
  // after '>' (<姓名>王秀英) or '=' (姓名=王秀英). 0 when none follows.
  uint32_t AfterColon(uint32_t to) const {
    uint32_t p = to;
    const bool quoted = v_.at(p) == '"';
    if (quoted) {
      ++p;
    } else if (v_.at(p) == '=') {
      return p + 1;
    } else if (v_.at(p) == '>') {  // an element's text, when the element closes on the line
      for (uint32_t q = p + 1; q < v_.seg_end && q - p < 160 && v_.at(q) != '\n'; ++q)
        if (v_.at(q) == '<' && v_.at(q + 1) == '/') return p + 1;
      return 0;
    }
    bool colon = false;
    for (int k = 0; k < 4 && p < v_.seg_end; ++k) {
      if (const uint32_t s = SpaceAt(p)) {
        p += s;
      } else if (const uint32_t c = colon ? 0 : ColonAt(p)) {
        colon = true;
        p += c;
      } else {
        break;
      }
    }
    if (!colon) return 0;
    if (quoted && v_.at(p) == '"') ++p;
    return p;
  }

  // An address after a label of another script ("地址：北京市朝阳区建国路88号", "Адрес: г. Москва,
  // ул. Тверская, д. 7", "العنوان: شارع الملك فهد 1234", "כתובת: רחוב הרצל 12") or after Japan's
  // postal mark ("〒160-0023 東京都新宿区…"): the rest of the value, to the line's or the field's
  // end, a phone label, or, in Chinese and Japanese text, a comma; at most 120 bytes, when
  // ScriptAddressValue says it reads as one.
  void ScriptAddress(const PatternSpec& ps, uint32_t to) {
    uint32_t b = ps.core_len == 1 ? to + SpaceAt(to) : AfterColon(to);
    // "地址北京市朝阳区…": Chinese may glue the address to its label as well, when what follows
    // starts as an address does (a province, city or district within its first four letters)
    // and names a road or a number ("地址转换成文件名" converts one).
    const bool glued = !b && GluedHanAddress(to);
    if (glued) b = to;
    if (!b) return;
    const letters::Letter first = LetterAt(b);
    const bool han = first.len && CjkLetter(first.cp);
    const bool quoted = v_.at(b - 1) == '"', form = v_.at(b - 1) == '=';
    uint32_t e = b, q = b;
    while (q < v_.seg_end && q - b < 120) {
      const unsigned char c = v_.at(q);
      if (c == '\n' || c == '\r' || c == '\t' || c == '|' || c == ';' || c == '<' ||
          (c == '"' && quoted) || (c == '&' && form) || (han && c == ','))
        break;  // and the end of a JSON string, an XML element, a form field (Hebrew writes
                // its gershayim as '"' inside words: "משעול הש\"ך 5")
      if (c == 0xEF && v_.at(q + 1) == 0xBC &&
          (v_.at(q + 2) == 0x9B || (han && v_.at(q + 2) == 0x8C)))
        break;  // '；', and '，' after a Han address
      if (c == 0xE3 && v_.at(q + 1) == 0x80 && v_.at(q + 2) == 0x82) break;  // '。'
      if (q > b && SpaceAt(q - 1)) {  // a word starts: a phone's label ends the address
        uint32_t x = q;
        for (letters::Letter l = LetterAt(x); l.len; l = LetterAt(x)) x += l.len;
        // … and so does another field: "адрес: 0x%08x, размер: %u".
        if (x > q && (IsScriptLabel(v_.sub(q, x)) || ColonAt(x))) break;
      }
      const letters::Letter l = c >= 0x80 ? LetterAt(q) : letters::Letter{};
      q += l.len ? l.len : c >= 0xC0 ? (c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2) : 1;
      if (!blank(c) && c != ',' && c != '.') e = q;
    }
    // "، هاتف": the Arabic comma before the label.
    while (e > b + 1 && v_.at(e - 2) == 0xD8 && v_.at(e - 1) == 0x8C) e -= 2;
    if (e > v_.seg_end) e = v_.seg_end;
    if (e - b >= 4 && ScriptAddressValue(v_.sub(b, e))) Emit(b, e, Entity::kStreetAddress);
  }

  // Whether a Chinese address is glued to the label that ends at `to` (地址, 住址, 所在地).
  bool GluedHanAddress(uint32_t to) const {
    static constexpr std::string_view kLabels[] = {"地址", "住址", "所在地"};
    if (!LabelEndsAt(to, kLabels)) return false;
    const std::string_view rest = v_.sub(to, std::min(v_.seg_end, to + 60));
    auto han_at = [&](size_t k) {
      const letters::Letter l = LetterAt(to + static_cast<uint32_t>(k));
      return l.len == 3 && l.cp >= 0x4E00 && l.cp <= 0x9FFF;
    };
    bool place = false;
    for (size_t k = 3; k < 12 && k + 3 <= rest.size() && han_at(k - 3); k += 3)
      for (std::string_view w : {"省", "市", "区", "區", "县", "縣", "州"})
        place = place || rest.substr(k, 3) == w;
    if (!han_at(0) || !place) return false;
    for (std::string_view w : {"路", "街", "道", "巷", "弄", "号", "號", "村"})
      if (rest.find(w) != std::string_view::npos) return true;
    return false;
  }

  // Whether the label ending at `to` names a person and may have the name glued to it.
  bool GluedHanLabel(uint32_t to) const {
    static constexpr std::string_view kLabels[] = {
        "姓名",   "联系人", "聯絡人", "聯繫人", "收件人", "收货人", "收貨人", "寄件人",
        "持卡人", "申请人", "申請人", "投保人", "受益人", "经办人", "經辦人", "负责人",
        "負責人", "客户",   "客戶",   "顾客",   "顧客",   "患者",   "病人"};
    return LabelEndsAt(to, kLabels);
  }

  // Whether one of `labels` ends at `to`, inside the segment.
  bool LabelEndsAt(uint32_t to, std::span<const std::string_view> labels) const {
    for (std::string_view l : labels)
      if (to >= v_.seg_start + l.size() && v_.sub(to - l.size(), to) == l) return true;
    return false;
  }

  // Whether a Chinese name glued to its label may end at e.
  bool HanNameEndsAt(uint32_t e) const {
    if (e >= v_.seg_end) return true;
    const letters::Letter l = LetterAt(e);
    if (!(l.len == 3 && CjkLetter(l.cp))) return true;  // punctuation, a space, a digit
    static constexpr std::string_view kNext[] = {
        "电话", "電話", "手机", "手機", "地址", "邮箱", "郵箱", "身份证", "身份證", "说",
        "說",   "表示", "反映", "称",   "稱",   "先生", "女士", "小姐",   "来电",   "來電",
        "致电", "致電", "要求", "已",   "于",   "於",   "的",   "在"};
    const std::string_view rest = v_.sub(e, std::min(v_.seg_end, e + 9));
    for (std::string_view w : kNext)
      if (rest.starts_with(w)) return true;
    return false;
  }

  void ScriptName(const PatternSpec& ps, uint32_t to) {
    uint32_t p = to;
    if (ps.core_len == 1) {  // a title: "श्री राहुल", "尊敬的王秀英女士"
      // Chinese, Japanese and Thai write the name glued to it ("我叫王秀英", "ผมชื่อสมชาย").
      const letters::Letter last = to >= v_.seg_start + 3 ? LetterAt(to - 3) : letters::Letter{};
      const bool glued =
          last.len == 3 && (CjkLetter(last.cp) || (last.cp >= 0x0E01 && last.cp <= 0x0E4E));
      if (!glued && LetterAt(p).len) return;  // "श्रीमान"
      p += SpaceAt(p);
    } else if (!(p = AfterColon(to))) {
      // Chinese may glue the name to its label ("联系人王秀英，电话…", "收件人王秀英 138…"): after
      // a label that names a person, a family name and one or two more Han letters, then a
      // boundary (punctuation, a space, a digit, the end, or a word that follows names:
      // 电话, 说, 先生 …). Many family names are common characters too ("用户管理",
      // "客户关系管理"): generic labels (用户, 名字) and names that run on into more text are not
      // read.
      if (!GluedHanLabel(to)) return;
      const size_t family = HanSurnameLength(v_.sub(to, std::min(v_.seg_end, to + 6)));
      if (!family) return;
      for (uint32_t e = to + static_cast<uint32_t>(family) + 6; e > to + family; e -= 3) {
        bool han = true;
        for (uint32_t k = to + static_cast<uint32_t>(family); k < e && han; k += 3) {
          const letters::Letter l = LetterAt(k);
          han = l.len == 3 && CjkLetter(l.cp) && !(l.cp >= 0x3041 && l.cp <= 0x30FF);
        }
        if (!han || !HanNameEndsAt(e)) continue;
        const std::string_view name = v_.sub(to, e);
        if (StartsWithParticle(name.substr(family)) || IsNoName(name)) return;
        Emit(to, e, Entity::kPersonName);
        return;
      }
      return;
    }
    const letters::Letter first = LetterAt(p);
    if (!first.len || first.script == letters::Script::kLatin) return;  // PersonKeyword's
    const bool han = first.script == letters::Script::kOther && CjkLetter(first.cp);
    // Korean spaces its words and writes a name as one of two to four syllables ("김민준").
    const bool hangul = first.cp >= 0xAC00 && first.cp <= 0xD7A3;
    const int max_words = hangul ? 1 : han ? 2 : 3, max_run = hangul ? 4 : 5;
    const uint32_t b = p;
    uint32_t e = p, q = p;
    int words = 0, total = 0;
    while (words < max_words) {
      uint32_t x = q;
      int n = 0;
      for (letters::Letter l = LetterAt(x);; l = LetterAt(x)) {
        if (han && x > q && IsCopulaAt(v_.sub(x, std::min(v_.seg_end, x + 16)))) break;
        if (han && v_.at(x) == 0xE3 && v_.at(x + 1) == 0x80 && v_.at(x + 2) == 0x85) {
          x += 3;  // 々, the iteration mark of "佐々木"
        } else if (l.len && l.script == first.script && CjkLetter(l.cp) == han && l.cp != 0x0964 &&
                   l.cp != 0x0965) {  // the danda ends a Devanagari sentence
          x += l.len;
        } else {
          break;
        }
        ++n;
      }
      if (n == 0) break;
      if (han && n > max_run) {
        if (words == 0) return;
        break;
      }
      if (words > 0 && IsScriptLabel(v_.sub(q, x))) break;  // "محمد أحمد هاتف 050…"
      // A copula that ends the sentence ends the name ("राहुल शर्मा है", "… است"); a function
      // word with more words after it makes the value a sentence ("ცარიელი არ უნდა იყოს").
      if (words > 0 && IsFunctionWord(v_.sub(q, x))) {
        if (SpaceAt(x) && LetterAt(x + SpaceAt(x)).len) return;
        break;
      }
      ++words;
      total += n;
      e = x;
      const uint32_t s = SpaceAt(e);
      if (!s) break;
      q = e + s;
    }
    if (total < 2 || IsAlnum(v_.at(e))) return;  // "王秀英abc", "Иван2": a code
    std::string_view name = v_.sub(b, e);
    if (han) StripHonorific(&name);  // "王秀英女士" after "尊敬的"
    if (han && StartsWithParticle(name)) return;
    if (name.size() < 4 || IsNoName(name)) return;
    // A Cyrillic abbreviation of two to four capitals before another word is a legal form
    // ("ГУП СнабСбыт", "ПАТ Агнеса"), not a name.
    if (first.script == letters::Script::kCyrillic && words > 1) {
      int caps = 0;
      uint32_t x = b;
      for (letters::Letter l = LetterAt(x); l.len && l.upper; l = LetterAt(x)) {
        x += l.len;
        ++caps;
      }
      if (caps >= 2 && caps <= 4 && SpaceAt(x)) return;
    }
    Emit(b, b + static_cast<uint32_t>(name.size()), Entity::kPersonName);
  }

 private:
  // Given names that, in lower case, are first of all English words ("customer will call",
  // "spoke to mark about", "patient rose early"): not a name after a keyword unless capitalised.
  static bool IsWordFirst(std::string_view w) {
    static constexpr std::string_view kWords[] = {
        "will",    "bill",    "mark",     "grant",  "rose",   "grace",  "hope",     "faith",
        "joy",     "june",    "may",      "april",  "august", "rich",   "frank",    "art",
        "sue",     "pat",     "don",      "ray",    "guy",    "jack",   "chase",    "chance",
        "dawn",    "summer",  "ivy",      "lily",   "holly",  "iris",   "ruby",     "pearl",
        "amber",   "crystal", "rob",      "drew",   "max",    "gene",   "carol",    "dean",
        "earl",    "glen",    "miles",    "norm",   "wade",   "hunter", "penny",    "sandy",
        "rusty",   "sunny",   "angel",    "king",   "prince", "major",  "young",    "long",
        "bob",     "buck",    "bud",      "cliff",  "dale",   "ford",   "jay",      "lance",
        "mason",   "mercy",   "nick",     "pierce", "reed",   "rod",    "sage",     "skip",
        "storm",   "van",     "violet",   "win",    "chip",   "hazel",  "heather",  "jade",
        "olive",   "robin",   "river",    "stone",  "sky",    "brook",  "cash",     "duke",
        "fox",     "knight",  "lake",     "ocean",  "ranger", "ridge",  "saint",    "wolf",
        "star",    "harry",   "colt",     "dash",   "hawk",   "jet",    "justice",  "destiny",
        "harmony", "melody",  "autumn",   "ginger", "honey",  "kitty",  "sterling", "tucker",
        "woody",   "happy",   "marshal",  "baker",  "carter", "cole",   "page",     "hall",
        "price",   "gay",     "precious", "unique", "sonny"};
    return OneOf(w, kWords);
  }

  // Two or three lower-case words from p: a given name (not one that is first a word: "will",
  // "mark"), perhaps a second one, and a surname the tables know ("jane doe", "mary jane
  // watson", "maria garcia-lopez", each part of a double surname known).
  void LowerCaseName(uint32_t p) {
    uint32_t b[3], e[3];
    int n = 0;
    for (uint32_t q = p; n < 3 && q < v_.seg_end && IsLower(v_.at(q));) {
      uint32_t x = q;
      while (x < v_.seg_end && (IsLower(v_.at(x)) ||
                                ((v_.at(x) == '-' || v_.at(x) == '\'') && IsLower(v_.at(x + 1)))))
        ++x;
      b[n] = q;
      e[n++] = x;
      if (v_.at(x) != ' ') break;
      q = x + 1;
    }
    auto given = [&](int k) {
      const std::string_view w = v_.sub(b[k], e[k]);
      const names::TokenInfo t = names::LookupGiven(w);
      return t.given >= 2 && !IsWordFirst(w) && !names::IsNonNameWord(w);
    };
    auto surname = [&](int k) {
      std::string_view w = v_.sub(b[k], e[k]);
      for (size_t dash; !w.empty(); w.remove_prefix(dash + 1)) {
        dash = std::min(w.find('-'), w.size());
        const names::TokenInfo t = names::Lookup(w.substr(0, dash));
        if (!t.surname || (t.word && t.surname < 2) || names::IsNonNameWord(w.substr(0, dash)))
          return false;
        if (dash == w.size()) break;
      }
      return true;
    };
    if (n < 2 || !given(0)) return;
    const int last = n == 3 && given(1) && surname(2) && !IsAlnum(v_.at(e[2])) ? 2 : 1;
    if (!surname(last) || IsAlnum(v_.at(e[last])) || v_.at(e[last]) >= 0x80) return;
    // A surname that is also a word, unless among the commonest ("smith", "young"), is that word
    // where the sentence goes on: "customer jane said 415…", "spoke to john back in" (but
    // "jane doe, 415…").
    const names::TokenInfo sn = names::Lookup(v_.sub(b[last], e[last]));
    if (sn.word && sn.surname < 3 && v_.at(e[last]) == ' ') return;
    Emit(b[0], e[last], Entity::kPersonName);
  }

  // Whom a greeting addresses that is no person's name ("Hi Everyone,", "Dear Colleagues,").
  static bool IsAddressedGroup(std::string_view w) {
    static constexpr std::string_view kGroups[] = {
        "everyone", "everybody", "all",       "there",     "folks",      "guys",    "friends",
        "world",    "both",      "again",     "gang",      "colleagues", "sir",     "madam",
        "mate",     "buddy",     "dude",      "people",    "members",    "users",   "guest",
        "guests",   "neighbor",  "neighbour", "neighbors", "neighbours", "honey",   "darling",
        "you",      "yall",      "siri",      "alexa",     "boss",       "doc",     "doctor",
        "nurse",    "class",     "kids",      "mom",       "mum",        "dad",     "mister",
        "sweetie",  "love",      "babe",      "bro",       "sis",        "fam",     "crew",
        "squad",    "ladies",    "gentlemen", "applicant", "candidate",  "partner", "valued",
        "hiring",   "recruiter", "reviewer",  "reviewers", "editor",     "editors", "maintainers"};
    for (std::string_view g : kGroups)
      if (EqualsLower(w, g)) return true;
    return false;
  }

  // SQL words written in capitals, which a label's words may run into ("customers SET DL").
  static bool IsSqlWord(std::string_view w) {
    static constexpr std::string_view kSql[] = {
        "SET",   "WHERE", "VALUES", "FROM",     "SELECT", "INTO",  "AND",       "OR",     "NOT",
        "NULL",  "AS",    "ON",     "JOIN",     "BY",     "LIMIT", "UPDATE",    "INSERT", "DELETE",
        "TABLE", "IS",    "IN",     "LIKE",     "CASE",   "WHEN",  "THEN",      "ELSE",   "END",
        "ORDER", "GROUP", "HAVING", "DISTINCT", "UNION",  "ALL",   "RETURNING", "DEFAULT"};
    for (std::string_view x : kSql)
      if (x == w) return true;
    return false;
  }

  static bool FileExtensionTld(std::string_view email) {
    static constexpr std::string_view kExt[] = {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js",   "json", "txt", "pdf", "html",
        "htm", "xml", "zip",  "gz",  "ico", "bmp",  "tif", "tiff", "mp4",  "mp3", "csv", "yaml"};
    size_t dot = email.rfind('.');
    if (dot == std::string_view::npos) return false;
    std::string_view tld = email.substr(dot + 1);
    for (std::string_view x : kExt)
      if (EqualsLower(tld, x)) return true;
    return false;
  }

  using ExtendFn = bool (*)(unsigned char);
  static ExtendFn ExtendClass(Entity e) {
    switch (e) {
      case Entity::kJwt:
        return [](unsigned char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; };
      case Entity::kSlackToken:
        return [](unsigned char c) { return IsAlnum(c) || c == '-'; };
      case Entity::kOpenAiApiKey:
        return [](unsigned char c) { return IsAlnum(c) || c == '_' || c == '-'; };
      case Entity::kApiToken:  // base64 and base64url bodies, dotted segments
        return [](unsigned char c) {
          return IsAlnum(c) || c == '_' || c == '-' || c == '=' || c == '+' || c == '/' || c == '.';
        };
      default:
        return [](unsigned char c) { return IsAlnum(c); };
    }
  }

  bool IsValueStart(Entity e, uint32_t p) const {
    // Values that start with a letter: driver licenses (A1234567), passports (C12345678),
    // month names for dates, secrets.
    switch (e) {
      case Entity::kUsPassport:         // C12345678, AB1234567, Spain's AAA123456
      case Entity::kUsDriverLicense: {  // A1234567, ND's ABC123456, the UK's MORGA753116SM9IJ
        uint32_t q = p;
        const uint32_t letters = e == Entity::kUsPassport ? 3 : 5;
        while (q < p + letters && IsAlpha(v_.at(q))) ++q;
        return q > p && IsDigit(v_.at(q));
      }
      case Entity::kUkNino:  // QQ123456C, QQ 12 34 56 C
        return IsUpper(v_.at(p)) && IsUpper(v_.at(p + 1)) &&
               (IsDigit(v_.at(p + 2)) || (v_.at(p + 2) == ' ' && IsDigit(v_.at(p + 3))));
      case Entity::kDateOfBirth:
        return IsMonth(p);
      case Entity::kNationalId:  // X1234567L, RSSMRA85T10A562S, GOMC800101HDFRRL09
      case Entity::kUsSsn: {     // … and so after "ssn": another country's (ZZ827685T)
        uint32_t q = p;
        while (q < p + 7 && (IsUpper(v_.at(q)) || (v_.at(q) == 0xC3 && v_.at(q + 1) == 0x91)))
          q += IsUpper(v_.at(q)) ? 1 : 2;  // Ñ: Mexico's RFC and CURP
        // A UK NI number spaced after its letters: "ZZ 996030 T", "AB 12 34 56 C".
        if (q == p + 2 && v_.at(q) == ' ' && IsDigit(v_.at(q + 1))) return true;
        return IsUpper(v_.at(p)) && IsDigit(v_.at(q));
      }
      case Entity::kGenericSecret:
      case Entity::kAwsSecretKey:
        return true;
      default:
        return false;
    }
  }

  bool IsFillerAt(uint32_t p, uint32_t limit, Entity entity) const {
    uint32_t w = p;
    while (w < limit && IsAlpha(v_.at(w))) ++w;
    return !IsDigit(v_.at(w)) && IsFiller(v_.sub(p, w), entity);
  }

  bool IsMonth(uint32_t p) const {
    static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul", "aug", "sep", "oct", "nov", "dec"};
    char m[3] = {Lower(v_.at(p)), Lower(v_.at(p + 1)), Lower(v_.at(p + 2))};
    for (std::string_view x : kMonths)
      if (x == std::string_view(m, 3)) return true;
    return false;
  }

  // Words between a keyword and its value. After a phone word, who and where: "call back
  // on", "text me at", "reach him at".
  static bool IsFiller(std::string_view w, Entity entity) {
    static constexpr std::string_view kFiller[] = {
        "is",  "no",   "nr",  "num",   "number", "of",  "was", "on",     "id",      "code",
        "the", "card", "our", "their", "his",    "her", "its", "ending", "numbers", "value",
        "a",   "an",   "at",  "as",    "date",   "in",  "key", "for",    "holder",  "n"};
    static constexpr std::string_view kPhoneFiller[] = {"back", "me", "us", "him", "them"};
    // Where a record keeps the value, and what happened to it: "SSN on file 536 22 1234",
    // "DOB as recorded 03/14/1972", "account now reads 12345678". Only before values that
    // carry their own shape; a password's keyword must stay next to its value.
    static constexpr std::string_view kRecordFiller[] = {
        "file",    "record",    "records",  "listed",  "provided", "given",   "reported",
        "stored",  "shown",     "below",    "here",    "entered",  "follows", "attached",
        "saved",   "confirmed", "verified", "updated", "new",      "old",     "previous",
        "current", "primary",   "to",       "be",      "has",      "reads",   "now",
        "changed", "corrected", "recorded", "from",    "with",     "are",     "were"};
    if (w.size() > 10) return false;
    char low[10];
    for (size_t i = 0; i < w.size(); ++i) low[i] = Lower(static_cast<unsigned char>(w[i]));
    std::string_view lw(low, w.size());
    for (std::string_view f : kFiller)
      if (f == lw) return true;
    if (entity == Entity::kPhone)
      for (std::string_view f : kPhoneFiller)
        if (f == lw) return true;
    if (entity != Entity::kGenericSecret && entity != Entity::kAwsSecretKey)
      for (std::string_view f : kRecordFiller)
        if (f == lw) return true;
    return false;
  }

  const View& v_;
  std::vector<EntityMatch>* out_;
};

// Lower-case ASCII, and the bit of each letter ('a' + k: bit k), by table.
constexpr auto kFold = [] {
  std::array<std::pair<char, uint32_t>, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const int l = c >= 'A' && c <= 'Z' ? c + 32 : c;
    t[c] = {static_cast<char>(l), l >= 'a' && l <= 'z' ? uint32_t{1} << (l - 'a') : 0};
  }
  return t;
}();

// Does any of `words` occur (case-insensitively) in the `width` bytes before b on its line?
bool NearWord(const View& v, uint32_t b, std::span<const std::string_view> words,
              uint32_t width = 48) {
  if (words.empty()) return false;
  char win[48];
  width = std::min<uint32_t>(width, sizeof(win));
  uint32_t s = b > v.seg_start + width ? b - width : v.seg_start;
  if (const void* nl = memrchr(v.p + s, '\n', b - s))
    s = static_cast<uint32_t>(static_cast<const char*>(nl) - v.p) + 1;
  const size_t n = b - s;
  uint32_t present = 0;  // bit k: letter 'a' + k occurs in the window
  for (size_t i = 0; i < n; ++i) {
    const auto& f = kFold[static_cast<unsigned char>(v.p[s + i])];
    win[i] = f.first;
    present |= f.second;
  }
  const std::string_view w(win, n);
  // Most words are ruled out by a letter the window lacks, without a search.
  for (std::string_view x : words) {
    if (x.size() > n) continue;
    uint32_t need = 0;
    for (char c : x) need |= kFold[static_cast<unsigned char>(c)].second;
    if ((need & ~present) == 0 && w.find(x) != std::string_view::npos) return true;
  }
  return false;
}

// Is the word right after e (after one space) a verb people are the subject of ("Lola Rippin
// wrote:", "Игнатий Федотов said")? Context after a name counts as context before it does.
bool FollowedBySpeechVerb(const View& v, uint32_t e) {
  static constexpr std::string_view kVerbs[] = {
      "wrote", "said", "says", "asked", "replied", "called", "emailed", "mentioned", "confirmed",
      "reported", "complained", "requested", "commented", "noted", "explained", "stated",
      "responded", "agreed", "phoned", "texted", "messaged",
      // … and the present tense of those that are no plural noun as well ("writes",
      // "reports", "requests" are: "the XML Reporter writes", "Flush GFXOFF requests").
      "asks", "confirms", "agrees", "responds"};
  if (v.at(e) != ' ') return false;
  uint32_t b = e + 1, x = b;
  char w[12];
  while (x < v.seg_end && x - b < sizeof(w) && IsAlpha(v.at(x))) {
    w[x - b] = static_cast<char>(v.at(x) | 0x20);
    ++x;
  }
  if (x == b || IsWord(v.at(x))) return false;  // "calls_pkey" is no verb
  const std::string_view word(w, x - b);
  for (std::string_view verb : kVerbs)
    if (verb == word) return true;
  return false;
}

// Is the word right before b (across at most a few separators) one of `words`, as in
// "order 4111…", "sku=…", "order_id: …"? Negative context only counts this close.
bool PrecedingWordIs(const View& v, uint32_t b, std::span<const std::string_view> words) {
  if (words.empty()) return false;
  int64_t i = b;
  int gap = 0;
  while (i > v.seg_start && gap < 6 && !IsAlpha(v.at(i - 1)) && v.at(i - 1) != '\n' &&
         !IsDigit(v.at(i - 1))) {
    --i;
    ++gap;
  }
  char w[32];
  size_t n = 0;
  int64_t e = i;
  while (i > v.seg_start && e - i < 31 && (IsWord(v.at(i - 1)))) --i;
  uint32_t present = 0;
  for (int64_t k = i; k < e; ++k) {
    const auto& f = kFold[v.at(k)];
    w[n++] = f.first;
    present |= f.second;
  }
  if (n == 0) return false;
  std::string_view word(w, n);
  for (std::string_view x : words) {
    if (x.size() > n) continue;
    uint32_t need = 0;
    for (char c : x) need |= kFold[static_cast<unsigned char>(c)].second;
    if ((need & ~present) != 0) continue;  // a letter of x is not in the word
    if (catalog::ColumnNameHas(word, x) || word.starts_with(x)) return true;
  }
  return false;
}

struct MatchSink {
  std::vector<Scanner::RawHit>* hits;
  uint32_t base;  // offset of the scanned range in the text
};

int OnMatch(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
            void* ctx) {
  auto* sink = static_cast<MatchSink*>(ctx);
  const uint32_t end = sink->base + static_cast<uint32_t>(to);
  sink->hits->push_back({id, end});
  // Custom entities report their start too: it follows as a second record.
  if (id >= kCustomIdBase) sink->hits->push_back({~0u, sink->base + static_cast<uint32_t>(from)});
  return 0;
}

}  // namespace

std::bitset<kMaxEntities> Detector::Options::AllBuiltins() {
  std::bitset<kMaxEntities> b;
  for (size_t i = 0; i < kBuiltinEntityCount; ++i) b.set(i);
  return b;
}

Detector::~Detector() {
  for (hs_scratch* s : spare_scratch_) hs_free_scratch(s);
}

hs_scratch* Detector::TakeScratch() const {
  {
    std::lock_guard lock(scratch_mu_);
    if (!spare_scratch_.empty()) {
      hs_scratch* s = spare_scratch_.back();
      spare_scratch_.pop_back();
      return s;
    }
  }
  hs_scratch* s = nullptr;
  for (const auto& db : dbs_) {
    // Growing one scratch to fit every database; failure here is out-of-memory.
    if (hs_alloc_scratch(db->db, &s) != HS_SUCCESS) std::abort();
  }
  return s;
}

void Detector::ReturnScratch(hs_scratch* scratch) const {
  if (scratch == nullptr) return;
  {
    std::lock_guard lock(scratch_mu_);
    if (spare_scratch_.size() < kMaxSpareScratch) {
      spare_scratch_.push_back(scratch);
      return;
    }
  }
  hs_free_scratch(scratch);
}

Result<std::shared_ptr<const Detector>> Detector::Create(Options options) {
  if (hs_valid_platform() != HS_SUCCESS)
    return Error{"this CPU lacks the SSSE3 instructions that Hyperscan needs"};
  if (options.custom.size() > kMaxEntities - kFirstCustom) return Error{"too many custom entities"};
  std::shared_ptr<Detector> d(new Detector());
  auto patterns = catalog::Patterns();
  for (DbClass cls : catalog::kDbClasses) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < patterns.size(); ++i) {
      const PatternSpec& ps = patterns[i];
      // kBuiltinCount marks patterns that serve several entities (SQL INSERT).
      if (ps.db != cls) continue;
      if (ps.entity != Entity::kBuiltinCount && !options.enabled.test(Index(ps.entity))) continue;
      exprs.push_back(ps.regex);
      flags.push_back(cls == DbClass::kKeyword ? HS_FLAG_CASELESS : 0);
      ids.push_back(static_cast<unsigned>(i));
    }
    if (exprs.empty()) continue;
    auto db = std::make_unique<Db>();
    db->cls = cls;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db->db,
                         &err) != HS_SUCCESS) {
      std::string msg = "built-in pattern failed to compile: ";
      msg += err ? err->message : "?";
      if (err && err->expression >= 0) msg += std::string(" in ") + exprs[err->expression];
      hs_free_compile_error(err);
      return Error{msg};
    }
    d->dbs_.push_back(std::move(db));
  }
  if (!options.custom.empty()) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < options.custom.size(); ++i) {
      exprs.push_back(options.custom[i].pattern.c_str());
      flags.push_back(HS_FLAG_SOM_LEFTMOST);
      ids.push_back(kCustomIdBase + static_cast<unsigned>(i));
    }
    auto db = std::make_unique<Db>();
    db->som = true;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db->db,
                         &err) != HS_SUCCESS) {
      std::string msg = "custom entity ";
      if (err && err->expression >= 0) msg += options.custom[err->expression].name + " ";
      msg += "pattern does not compile: ";
      msg += err ? err->message : "?";
      hs_free_compile_error(err);
      return Error{msg};
    }
    d->dbs_.push_back(std::move(db));
  }
  d->options_ = std::move(options);
  return std::shared_ptr<const Detector>(std::move(d));
}

std::string_view Detector::EntityName(uint8_t id) const {
  if (id < kBuiltinEntityCount) return kBuiltinEntityNames[id];
  size_t c = static_cast<size_t>(id) - kFirstCustom;
  if (id >= kFirstCustom && c < options_.custom.size()) return options_.custom[c].name;
  return "UNKNOWN";
}

int Detector::EntityId(std::string_view name) const {
  if (auto e = BuiltinEntityFromName(name)) return static_cast<int>(*e);
  for (size_t i = 0; i < options_.custom.size(); ++i)
    if (options_.custom[i].name == name) return static_cast<int>(kFirstCustom + i);
  return -1;
}

Scanner::Scanner(std::shared_ptr<const Detector> detector)
    : detector_(std::move(detector)),
      scratch_(detector_->TakeScratch()),
      prefilter_(std::make_unique<Prefilter>()) {
  hits_.reserve(256);
  candidates_.reserve(64);
}

Scanner::~Scanner() { detector_->ReturnScratch(scratch_); }

void Scanner::Scan(std::string_view text, std::vector<EntityMatch>* out, const ColumnHints* hints) {
  Segment whole{0, static_cast<uint32_t>(text.size()), hints};
  Scan(text, std::span<const Segment>(&whole, 1), out);
}

namespace {
Stage StageOf(DbClass cls) {
  switch (cls) {
    case DbClass::kLiteral:
      return Stage::kLiteral;
    case DbClass::kHexSep:
      return Stage::kHexSep;
    case DbClass::kLetters:
      return Stage::kLetters;
    default:
      return Stage::kKeyword;
  }
}
}  // namespace

namespace {

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The character an HTML character reference at in[i] ('&') stands for, and its length; 0 when
// it is none. Decimal and hex references, and the names an address is spelled with.
uint32_t HtmlReference(std::string_view in, size_t i, size_t* len) {
  const size_t semi = in.substr(0, i + 12).find(';', i + 1);
  if (semi == std::string_view::npos) return 0;
  const std::string_view body = in.substr(i + 1, semi - i - 1);
  *len = semi + 1 - i;
  if (body.size() >= 2 && body[0] == '#') {
    const bool hex = body[1] == 'x' || body[1] == 'X';
    uint32_t cp = 0;
    const std::string_view digits = body.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      const int v = hex ? HexValue(static_cast<unsigned char>(c)) : (IsDigit(c) ? c - '0' : -1);
      if (v < 0) return 0;
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
      if (cp > 0x10FFFF) return 0;
    }
    return cp >= 0x20 ? cp : 0;
  }
  constexpr std::pair<std::string_view, char> kNamed[] = {
      {"amp", '&'},   {"lt", '<'},     {"gt", '>'},     {"quot", '"'},
      {"apos", '\''}, {"commat", '@'}, {"period", '.'}, {"nbsp", ' '}};
  for (const auto& [name, c] : kNamed)
    if (body == name) return static_cast<unsigned char>(c);
  return 0;
}

// A JSON (or JavaScript) escape at in[i] ('\\'): "\\u0040" and its length, a surrogate pair
// as one character, an escaped line break or tab as itself (`Kind regards,\\nMaria Lopez`);
// 0 when it is none.
uint32_t JsonEscape(std::string_view in, size_t i, size_t* len) {
  if (i + 2 < in.size() && (in[i + 1] == 'n' || in[i + 1] == 'r' || in[i + 1] == 't') &&
      (i == 0 || in[i - 1] != '\\')) {
    *len = 2;
    return in[i + 1] == 't' ? '\t' : '\n';  // a line break still ends a name's run
  }
  auto unit = [&](size_t k) -> int64_t {
    if (k + 6 > in.size() || in[k] != '\\' || in[k + 1] != 'u') return -1;
    int64_t v = 0;
    for (size_t d = k + 2; d < k + 6; ++d) {
      const int h = HexValue(in[d]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    return v;
  };
  const int64_t hi = unit(i);
  if (hi < 0x20) return 0;
  if (hi >= 0xD800 && hi < 0xDC00) {
    const int64_t lo = unit(i + 6);
    if (lo < 0xDC00 || lo >= 0xE000) return 0;
    *len = 12;
    return static_cast<uint32_t>(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
  }
  if (hi >= 0xDC00 && hi < 0xE000) return 0;
  *len = 6;
  return static_cast<uint32_t>(hi);
}

// "[at]", "(at)", "{at}" and the same for "dot", in any case: the character they spell.
char SpelledPunctuation(std::string_view in, size_t i, size_t* len) {
  const char close = in[i] == '[' ? ']' : in[i] == '(' ? ')' : '}';
  for (const auto& [word, c] : {std::pair<std::string_view, char>{"at", '@'}, {"dot", '.'}}) {
    if (i + word.size() + 2 > in.size() || in[i + word.size() + 1] != close) continue;
    bool same = true;
    for (size_t k = 0; k < word.size(); ++k) same = same && Lower(in[i + 1 + k]) == word[k];
    if (same) {
      *len = word.size() + 2;
      return c;
    }
  }
  return 0;
}

// " at " and " dot " between two words, in any case ("john dot doe at example dot com"): the
// character they spell, and their length with the spaces; 0 when it is none.
char SpelledWord(std::string_view in, size_t i, size_t* len) {
  if (i == 0 || !IsAlnum(in[i - 1])) return 0;
  for (const auto& [word, c] : {std::pair<std::string_view, char>{"at", '@'}, {"dot", '.'}}) {
    const size_t e = i + 1 + word.size();
    if (e + 1 >= in.size() || in[e] != ' ' || !IsAlnum(in[e + 1])) continue;
    bool same = true;
    for (size_t k = 0; k < word.size(); ++k) same = same && Lower(in[i + 1 + k]) == word[k];
    if (same) {
      *len = word.size() + 2;
      return c;
    }
  }
  return 0;
}

// What the UTF-8 character at in[i] folds to (FoldToAscii), its length in *len; 0: none.
int FoldAt(std::string_view in, size_t i, size_t* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const uint32_t cp = Utf8At(p, i, in.size(), len);
  return cp ? FoldToAscii(cp) : 0;
}

// One decoding pass over `in`, whose bytes came from the original spans [in_from[k], in_to[k]):
// percent-encoding (and '+' between letters where there is any), HTML character references,
// JSON's \\u escapes,
// and the bracketed spellings of '@' and '.' with the spaces around them. Appends the decoded
// bytes to *out with their original spans; returns whether anything was decoded.
bool DecodePass(std::string_view in, const uint32_t* in_from, const uint32_t* in_to,
                std::string* out, std::vector<uint32_t>* from, std::vector<uint32_t>* to) {
  bool changed = false, percent = false;
  for (size_t i = 0; i + 2 < in.size() && !percent; ++i)
    percent = in[i] == '%' && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0;
  auto put = [&](unsigned char c, size_t b, size_t e) {
    out->push_back(static_cast<char>(c));
    from->push_back(in_from[b]);
    to->push_back(in_to[e - 1]);
  };
  for (size_t i = 0; i < in.size();) {
    const unsigned char c = in[i];
    size_t len = 0;
    if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      put(static_cast<unsigned char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])), i, i + 3);
      i += 3;
      changed = true;
    } else if (c == '+' && percent && i > 0 && i + 1 < in.size() && IsAlpha(in[i - 1]) &&
               IsAlpha(in[i + 1])) {
      put(' ', i, i + 1);  // a form-encoded space: "John+Smith"
      ++i;
      changed = true;
    } else if (uint32_t cp = c == '&'    ? HtmlReference(in, i, &len)
                             : c == '\\' ? JsonEscape(in, i, &len)
                                         : 0) {
      char u[4];
      size_t n = 0;  // UTF-8
      if (cp < 0x80) {
        u[n++] = static_cast<char>(cp);
      } else if (cp < 0x800) {
        u[n++] = static_cast<char>(0xC0 | (cp >> 6));
        u[n++] = static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        u[n++] = static_cast<char>(0xE0 | (cp >> 12));
        u[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        u[n++] = static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        u[n++] = static_cast<char>(0xF0 | (cp >> 18));
        u[n++] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        u[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        u[n++] = static_cast<char>(0x80 | (cp & 0x3F));
      }
      for (size_t k = 0; k < n; ++k) put(static_cast<unsigned char>(u[k]), i, i + len);
      i += len;
      changed = true;
    } else if (int a = c >= 0xC2 ? FoldAt(in, i, &len) : 0) {
      // Fullwidth and other Unicode forms of ASCII (unicode_fold.h); zero-width ones dropped.
      if (a != kFoldDrop) put(static_cast<unsigned char>(a), i, i + len);
      i += len;
      changed = true;
    } else if (char w = c == ' ' ? SpelledWord(in, i, &len) : 0) {
      // "john dot doe at example dot com": the word and the spaces around it.
      put(static_cast<unsigned char>(w), i, i + len);
      i += len;
      changed = true;
    } else if (char p = (c == '[' || c == '(' || c == '{') ? SpelledPunctuation(in, i, &len) : 0) {
      // "john [at] example [dot] com": the spaces around go with the word.
      uint32_t b = in_from[i];
      if (!out->empty() && out->back() == ' ' && from->back() + 1 == b) {
        b = from->back();
        out->pop_back();
        from->pop_back();
        to->pop_back();
      }
      size_t e = i + len;
      if (e < in.size() && in[e] == ' ') ++e;
      out->push_back(p);
      from->push_back(b);
      to->push_back(in_to[e - 1]);
      i = e;
      changed = true;
    } else {
      put(c, i, i + 1);
      ++i;
    }
  }
  return changed;
}

// Whether `s` is text a person would read: printable ASCII, tabs and line breaks, and
// well-formed UTF-8. Binary (a hash, a key, compressed bytes) is not.
bool IsReadableText(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
      if (c == 0x7F) return false;
      ++i;
      continue;
    }
    const size_t n = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// The text that a base64 (standard or URL-safe, padded or not) or hex token stands for, into
// *out; false when the token is neither or what it holds is not readable text (a hash, a
// random key, an image). At least 8 bytes of text.
bool DecodeTextToken(std::string_view tok, std::string* out) {
  out->clear();
  while (!tok.empty() && tok.back() == '=') tok.remove_suffix(1);
  if (tok.size() < 11) return false;
  const bool hex = tok.size() % 2 == 0 && std::all_of(tok.begin(), tok.end(), [](char c) {
                     return IsHex(static_cast<unsigned char>(c));
                   });
  if (hex) {
    for (size_t i = 0; i < tok.size(); i += 2) {
      const auto b = static_cast<char>(HexValue(tok[i]) * 16 + HexValue(tok[i + 1]));
      const auto u = static_cast<unsigned char>(b);
      if (u < 0x20 && u != '\n' && u != '\t' && u != '\r') return false;  // fast out
      out->push_back(b);
    }
    return out->size() >= 8 && IsReadableText(*out);
  }
  if (tok.size() % 4 == 1) return false;
  // One alphabet: '+' '/' (standard) or '-' '_' (URL-safe), not both.
  const bool std_alpha = tok.find_first_of("+/") != std::string_view::npos;
  const bool url_alpha = tok.find_first_of("-_") != std::string_view::npos;
  if (std_alpha && url_alpha) return false;
  const bool ok = validate::Base64Bytes(tok, url_alpha, [&](unsigned char u) {
    if (u < 0x20 && u != '\n' && u != '\t' && u != '\r') return false;  // fast out
    out->push_back(static_cast<char>(u));
    return true;
  });
  if (!ok) return false;
  return out->size() >= 8 && IsReadableText(*out);
}

// Whether the 8 characters at the start of s may begin a base64 or hex token that holds text:
// the 6 (or 4) bytes they decode to have no control character.
bool MayBeTextToken(std::string_view s) {
  if (s.size() < 11) return false;
  s = s.substr(0, 8);
  auto text_byte = [](unsigned char u) {
    return u >= 0x20 ? u != 0x7F : u == '\n' || u == '\t' || u == '\r';
  };
  bool hex = true;
  for (size_t i = 0; i < 8 && hex; i += 2) {
    const int hi = HexValue(s[i]), lo = HexValue(s[i + 1]);
    hex = hi >= 0 && lo >= 0 && text_byte(static_cast<unsigned char>(hi * 16 + lo));
  }
  if (hex) return true;
  return validate::Base64Bytes(s, true, text_byte);
}

}  // namespace

void Scanner::Scan(std::string_view text, std::span<const Segment> segments,
                   std::vector<EntityMatch>* out) {
  ScanOnce(text, segments, out);
  // Encoded text (a query string's %40, an HTML page's &#64;, "[at]", a base64 or hex token
  // that holds text) hides what it holds from the stages above: the segments where the
  // prefilter saw such text are decoded and scanned again.
  if (text.empty() || segments.empty()) return;
  if (prefilter_->encodings().empty() && prefilter_->token_starts().empty()) return;
  ScanDecoded(text, segments, out);
}

void Scanner::ScanDecoded(std::string_view text, std::span<const Segment> segments,
                          std::vector<EntityMatch>* out) {
  decoded_.clear();
  from_.clear();
  to_.clear();
  decoded_segments_.clear();
  // The prefilter's marks of this text: read before ScanOnce runs it over the decoded text.
  // A decoded piece starts after a line break that maps nowhere (findings never cross it).
  auto begin_piece = [&] {
    if (!decoded_.empty()) {
      decoded_.push_back('\n');
      from_.push_back(0);
      to_.push_back(0);
    }
    return static_cast<uint32_t>(decoded_.size());
  };
  const std::span<const uint32_t> marks = prefilter_->encodings();
  size_t mark = 0;
  for (const Segment& sg : marks.empty() ? std::span<const Segment>() : segments) {
    while (mark < marks.size() && marks[mark] < sg.start) ++mark;
    if (mark == marks.size() || marks[mark] >= sg.end) continue;  // nothing encoded here
    const std::string_view cell = text.substr(sg.start, sg.end - sg.start);
    // Up to three passes: "%2540" is "%40" encoded once more.
    pass_.assign(cell);
    pass_from_.resize(cell.size());
    pass_to_.resize(cell.size());
    for (uint32_t k = 0; k < cell.size(); ++k) {
      pass_from_[k] = sg.start + k;
      pass_to_[k] = sg.start + k + 1;
    }
    bool any = false;
    for (int round = 0; round < 3; ++round) {
      next_.clear();
      next_from_.clear();
      next_to_.clear();
      if (!DecodePass(pass_, pass_from_.data(), pass_to_.data(), &next_, &next_from_, &next_to_))
        break;
      any = true;
      pass_.swap(next_);
      pass_from_.swap(next_from_);
      pass_to_.swap(next_to_);
    }
    if (!any || pass_.empty()) continue;
    const uint32_t start = begin_piece();
    decoded_ += pass_;
    from_.insert(from_.end(), pass_from_.begin(), pass_from_.end());
    to_.insert(to_.end(), pass_to_.begin(), pass_to_.end());
    decoded_segments_.push_back({start, static_cast<uint32_t>(decoded_.size()), sg.hints});
  }
  // Tokens in base64 or hex that hold text: "Sm9obiBTbWl0aCwgU1NOIDEyMy00NS02Nzg5" is "John
  // Smith, SSN 123-45-6789". A finding inside one masks the whole token: a part of an
  // encoding still encodes its neighbours' bits.
  const auto tokens_from = static_cast<uint32_t>(decoded_.size());
  size_t seg = 0;
  uint32_t done = 0;
  auto b64 = [](unsigned char c) { return IsAlnum(c) || c == '+' || c == '/'; };
  for (const uint32_t pos : prefilter_->token_starts()) {
    if (pos < done) continue;
    while (seg < segments.size() && segments[seg].end <= pos) ++seg;
    if (seg == segments.size()) break;
    const Segment& sg = segments[seg];
    if (pos < sg.start) continue;
    // The token's characters from `start`, over the line breaks of wrapped base64 (PEM and
    // PostgreSQL's encode() wrap at 64 and 76: lines of whole quanta); its end into *end.
    auto gather = [&](uint32_t start, uint32_t* end) {
      token_chars_.clear();
      uint32_t q = start;
      for (;;) {
        uint32_t r = q;
        while (r < sg.end && r - q < 4096 && (b64(text[r]) || text[r] == '-' || text[r] == '_'))
          ++r;
        for (int pad = 0; pad < 2 && r < sg.end && text[r] == '='; ++pad) ++r;
        token_chars_.append(text.substr(q, r - q));
        *end = r;
        if (r == q || (r - q) % 4 != 0 || text[r - 1] == '=' || token_chars_.size() > 65536) break;
        q = r + (r < sg.end && text[r] == '\r');
        if (!(q < sg.end && text[q] == '\n' && q + 1 < sg.end && b64(text[q + 1]))) break;
        ++q;
      }
      return std::string_view(token_chars_);
    };
    // The run may have begun before a '+' or '/' that the token run does not include.
    // Not into a token already read, and not far: each token start walks back at most 256
    // bytes ("a/b/c/…" paths must not make this quadratic).
    uint32_t b = pos;
    while (b > std::max(sg.start, done) && pos - b < 256 && b64(text[b - 1])) --b;
    // Most tokens (hashes, keys, ids) fail on their first bytes: look at those first.
    const bool from_b = b < pos && MayBeTextToken(text.substr(b, sg.end - b));
    const bool from_pos = MayBeTextToken(text.substr(pos, sg.end - pos));
    if (!from_b && !from_pos) continue;
    uint32_t from = b, e = 0;
    bool text_token = from_b && DecodeTextToken(gather(b, &e), &token_text_);
    if (!text_token && from_pos) {
      text_token = DecodeTextToken(gather(pos, &e), &token_text_);
      from = pos;
    }
    done = e;
    if (!text_token) continue;
    const uint32_t start = begin_piece();
    decoded_ += token_text_;
    from_.insert(from_.end(), token_text_.size(), from);
    to_.insert(to_.end(), token_text_.size(), e);
    decoded_segments_.push_back({start, static_cast<uint32_t>(decoded_.size()), sg.hints});
  }
  if (decoded_segments_.empty()) return;
  ScanOnce(decoded_, decoded_segments_, &decoded_out_);
  if (decoded_out_.empty()) return;
  for (const EntityMatch& m : decoded_out_) {
    // A token's text is a fragment (a PEM line starts and ends inside words): a name in it
    // needs more than a capitalised pair ("QuoVadis Root" 0.55; "Regards, Tom Baker" 0.9).
    if (m.start >= tokens_from && m.entity == Index(Entity::kPersonName) && m.score < 0.7f)
      continue;
    out->push_back({from_[m.start], to_[m.end - 1], m.entity, m.score});
  }
  // Findings of both scans, sorted and joined where they overlap (the longer names the span).
  std::sort(out->begin(), out->end(),
            [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
  size_t k = 0;
  for (const EntityMatch& m : *out) {
    if (k > 0 && m.start < (*out)[k - 1].end) {
      EntityMatch& prev = (*out)[k - 1];
      if (m.end - m.start > prev.end - prev.start) {
        prev.entity = m.entity;
        prev.score = m.score;
      }
      prev.end = std::max(prev.end, m.end);
      continue;
    }
    (*out)[k++] = m;
  }
  out->resize(k);
}

namespace {

// A candidate that lost an overlap still masks its bytes that no kept finding covers, as what
// it found: `NINO QQ 12 34 56 C` read as a name (`NINO QQ`) and as a number leaves no digit
// of the number. The pieces are cut to their letters and digits; `first` is where the
// cluster's findings begin; `leading_only` keeps only what comes before the first of them.
void MaskRemainder(std::string_view text, const EntityMatch& m, size_t first,
                   std::vector<EntityMatch>* out, bool leading_only) {
  uint32_t c = m.start;
  auto piece = [&](uint32_t b, uint32_t e) {
    auto word = [&](uint32_t k) {
      const auto ch = static_cast<unsigned char>(text[k]);
      return IsAlnum(ch) || ch >= 0x80;
    };
    while (b < e && !word(b)) ++b;
    while (e > b && !word(e - 1)) --e;
    if (b < e) out->push_back({b, e, m.entity, m.score});
  };
  for (;;) {  // the kept findings inside m, in text order (at most a cluster's few)
    size_t next = out->size();
    for (size_t o = first; o < out->size(); ++o)
      if ((*out)[o].end > c && (*out)[o].start < m.end &&
          (next == out->size() || (*out)[o].start < (*out)[next].start))
        next = o;
    if (next == out->size()) break;
    const uint32_t s = (*out)[next].start, e = (*out)[next].end;
    if (c < s) piece(c, s);
    if (leading_only) return;
    c = std::max(c, e);
  }
  if (c < m.end) piece(c, m.end);
}

}  // namespace

void Scanner::ScanOnce(std::string_view text, std::span<const Segment> segments,
                       std::vector<EntityMatch>* out) {
  out->clear();
  candidates_.clear();
  if (text.empty() || segments.empty()) return;
  hits_.clear();
  Prefilter& pf = *prefilter_;
  pf.Run(text);
  MatchSink sink{&hits_, 0};
  size_t db_ends[8];  // hits_ of each database end here
  size_t n_dbs = 0;
  for (const auto& db : detector_->dbs_) {
    if (n_dbs > 0) db_ends[n_dbs - 1] = hits_.size();
    n_dbs = std::min<size_t>(n_dbs + 1, std::size(db_ends));
    if (db->som) {
      sink.base = 0;
      hs_scan(db->db, text.data(), static_cast<unsigned>(text.size()), 0, scratch_, OnMatch, &sink);
      continue;
    }
    for (const Window& w : pf.windows(StageOf(db->cls))) {
      sink.base = w.begin;
      hs_scan(db->db, text.data() + w.begin, w.end - w.begin, 0, scratch_, OnMatch, &sink);
    }
  }
  if (n_dbs > 0) db_ends[n_dbs - 1] = hits_.size();
  const auto& opts = detector_->options_;
  // Context for the candidates a resolver added: words before the value, the column's hints.
  auto finish = [&](const View& v, const Segment& sg, size_t before) {
    for (size_t i = before; i < candidates_.size(); ++i) {
      EntityMatch& m = candidates_[i];
      if (!opts.enabled.test(m.entity) && m.entity < kFirstCustom) {
        m.score = -1;
        continue;
      }
      if (m.entity < kBuiltinEntityCount) {
        const auto& info = catalog::Info(static_cast<Entity>(m.entity));
        if (NearWord(v, m.start, info.positive) ||
            (m.entity == Index(Entity::kPersonName) && FollowedBySpeechVerb(v, m.end)))
          m.score += 0.15f;
        // Negative words count only right before the value ("order 4111…", "sku=…").
        if (PrecedingWordIs(v, m.start, info.negative)) m.score -= 0.3f;
      } else {
        size_t c = m.entity - kFirstCustom;
        for (const std::string& w : opts.custom[c].context) {
          std::string_view sw(w);
          if (NearWord(v, m.start, std::span<const std::string_view>(&sw, 1))) {
            m.score += 0.15f;
            break;
          }
        }
      }
      if (sg.hints) m.score += sg.hints->boost[m.entity];
      m.score = std::min(m.score, 1.0f);
    }
  };
  // The segment holding byte `pos`, by a cursor that only moves forward.
  auto segment_at = [&](size_t* cursor, uint32_t pos) -> const Segment* {
    while (*cursor + 1 < segments.size() && pos >= segments[*cursor].end) ++*cursor;
    const Segment& sg = segments[*cursor];
    return (pos >= sg.start && pos < sg.end) ? &sg : nullptr;
  };
  // Numbers, then names: the C++ stages read the prefilter's positions directly. Each stage
  // adds its candidates nearly in text order: run_ends keeps where each stage's run ends.
  size_t run_ends[7];
  {
    const bool numbers_on =
        opts.enabled.test(Index(Entity::kPhone)) || opts.enabled.test(Index(Entity::kCreditCard)) ||
        opts.enabled.test(Index(Entity::kUsSsn)) || opts.enabled.test(Index(Entity::kIban)) ||
        opts.enabled.test(Index(Entity::kUkNino)) || opts.enabled.test(Index(Entity::kUkNhs)) ||
        opts.enabled.test(Index(Entity::kIpAddress)) || opts.enabled.test(Index(Entity::kUsItin));
    size_t cur = 0;
    uint32_t skip = 0, card_skip = 0;
    if (numbers_on) {
      for (const NumberRun& nr : pf.numbers()) {
        const Segment* sg = segment_at(&cur, nr.begin);
        if (!sg) continue;
        View v{text.data(), sg->start, sg->end};
        size_t before = candidates_.size();
        Resolution r(v, &candidates_);
        r.NumberAt(nr.begin, &skip, &card_skip);
        if (candidates_.size() > before) finish(v, *sg, before);
      }
    }
    run_ends[0] = candidates_.size();
    // `resolve(r, pos)` at each of the prefilter's positions that lies inside a segment.
    auto at_each = [&](std::span<const uint32_t> positions, auto&& resolve) {
      size_t c = 0;
      for (uint32_t pos : positions) {
        const Segment* sg = segment_at(&c, pos);
        if (!sg) continue;
        View v{text.data(), sg->start, sg->end};
        size_t before = candidates_.size();
        Resolution r(v, &candidates_);
        resolve(r, pos);
        if (candidates_.size() > before) finish(v, *sg, before);
      }
    };
    skip = 0;
    if (opts.enabled.test(Index(Entity::kPersonName)))
      at_each(pf.name_starts(), [&](Resolution& r, uint32_t pos) {
        if (!r.RecordSegment(pos)) r.NameAt(pos, &skip);
      });
    run_ends[1] = candidates_.size();
    const bool tokens = opts.enabled.test(Index(Entity::kApiToken));
    const bool hashes = opts.enabled.test(Index(Entity::kGenericSecret));
    const bool cards = opts.enabled.test(Index(Entity::kCreditCard));
    uint32_t hash_until = 0;
    if (tokens || hashes || cards)
      at_each(pf.token_starts(), [&](Resolution& r, uint32_t pos) {
        if (hashes && r.PasswordHash(pos, &hash_until)) return;
        if (tokens) r.PrefixedToken(pos);
        // `4111_1111_1111_1111` is one token run to the prefilter, no number run.
        if (cards && IsDigit(text[pos])) r.UnderscoredCard(pos);
      });
    run_ends[2] = candidates_.size();
    skip = 0;
    if (opts.enabled.test(Index(Entity::kStreetAddress)))
      at_each(pf.house_numbers(),
              [&](Resolution& r, uint32_t pos) { r.HouseNumberAt(pos, &skip); });
    run_ends[3] = candidates_.size();
    if (opts.enabled.test(Index(Entity::kPersonName)) || opts.enabled.test(Index(Entity::kPhone)))
      at_each(pf.fields(), [&](Resolution& r, uint32_t pos) { r.FieldAt(pos); });
  }
  run_ends[4] = candidates_.size();
  // Command lines: each line once, however many options it has.
  if (opts.enabled.test(Index(Entity::kGenericSecret))) {
    size_t c = 0;
    uint32_t line_end = 0;
    for (uint32_t pos : pf.commands()) {
      if (pos < line_end) continue;
      const Segment* sg = segment_at(&c, pos);
      if (!sg) continue;
      View v{text.data(), sg->start, sg->end};
      size_t before = candidates_.size();
      Resolution r(v, &candidates_);
      line_end = r.CommandLine(pos);
      if (candidates_.size() > before) finish(v, *sg, before);
    }
  }
  run_ends[5] = candidates_.size();
  if (hits_.empty() && candidates_.empty()) return;

  auto patterns = catalog::Patterns();
  uint32_t skip_card = 0, skip_phone = 0, skip_v6 = 0;
  size_t seg = 0;
  // Hits of one database arrive in end order, but the databases run one after another:
  // sort so the per-resolver skip marks and the segment cursor only move forward.
  std::vector<RawHit>& hits = hits_;
  // Custom hits are pairs (id, to)(~0, from): sort (to, index) keys, skipping the "from"s.
  order_.clear();
  size_t order_ends[std::size(db_ends)];
  for (size_t d = 0, i = 0; d < n_dbs; ++d) {
    for (; i < (d + 1 == n_dbs ? hits.size() : db_ends[d]); ++i)
      if (hits[i].pattern != ~0u)
        order_.push_back(uint64_t{hits[i].to} << 32 | static_cast<uint32_t>(i));
    order_ends[d] = order_.size();
  }
  SortRuns(order_, std::span<const size_t>(order_ends, n_dbs), std::less<uint64_t>());

  for (uint64_t key : order_) {
    const uint32_t idx = static_cast<uint32_t>(key);
    const RawHit& h = hits[idx];
    while (seg + 1 < segments.size() && h.to > segments[seg].end) ++seg;
    const Segment& sg = segments[seg];
    if (h.to <= sg.start || h.to > sg.end) continue;  // crosses a segment separator
    View v{text.data(), sg.start, sg.end};
    size_t before = candidates_.size();
    Resolution r(v, &candidates_);
    if (h.pattern >= kCustomIdBase) {
      uint32_t from = hits[idx + 1].to;
      size_t c = h.pattern - kCustomIdBase;
      if (from < sg.start) continue;
      candidates_.push_back(
          {from, h.to, static_cast<uint8_t>(kFirstCustom + c), opts.custom[c].score});
    } else {
      const PatternSpec& ps = patterns[h.pattern];
      switch (ps.resolver) {
        case Resolver::kEmail:
          r.Email(h.to);
          break;
        case Resolver::kFixedToken:
          r.FixedToken(ps, h.to);
          break;
        case Resolver::kPrivateKey:
          r.PrivateKey(h.to);
          break;
        case Resolver::kUrlPassword:
          r.UrlPassword(h.to);
          break;
        case Resolver::kCardRun:
          r.CardRun(h.to, &skip_card);
          break;
        case Resolver::kSsnDashed:
          r.SsnDashed(h.to);
          break;
        case Resolver::kPhone:
          r.Phone(h.to, &skip_phone);
          break;
        case Resolver::kSpacedTen:
          r.SpacedTen(h.to);
          break;
        case Resolver::kIban:  // read by the number lexer
          break;
        case Resolver::kNino:
          r.Nino(h.to);
          break;
        case Resolver::kIpv4:
          r.Ipv4(h.to);
          break;
        case Resolver::kIpv6:
          r.Ipv6(h.to, &skip_v6);
          break;
        case Resolver::kMac:
          r.Mac(ps, h.to);
          break;
        case Resolver::kStreet:
          r.Street(h.to);
          break;
        case Resolver::kKeywordValue:
          r.KeywordValue(ps.entity, h.to);
          break;
        case Resolver::kPersonKeyword:
          r.PersonKeyword(h.to);
          break;
        case Resolver::kSqlInsert:
          r.SqlInsert(h.to);
          break;
        case Resolver::kSecretAfter:
          r.SecretAfter(ps, h.to);
          break;
        case Resolver::kBasicAuth:
          r.BasicAuth(h.to);
          break;
        case Resolver::kUrlUser:
          r.UrlUser(h.to);
          break;
        case Resolver::kCommandLine:
          r.CommandLine(h.to);
          break;
        case Resolver::kScriptName:
          r.ScriptName(ps, h.to);
          break;
        case Resolver::kScriptAddress:
          r.ScriptAddress(ps, h.to);
          break;
        case Resolver::kStreetAfter:
          r.StreetAfter(h.to);
          break;
      }
    }
    finish(v, sg, before);
  }

  // Keep the best of overlapping candidates (higher score, then longer). Candidates sorted by
  // start fall into clusters of overlapping ones; the choice is made within each cluster, so
  // the work stays linear in the number of candidates across a large block.
  run_ends[6] = candidates_.size();
  ContactNames(segments);
  {
    size_t kept = 0, from = 0;
    for (size_t& end : run_ends) {
      for (; from < end; ++from)
        if (candidates_[from].score >= opts.min_score) candidates_[kept++] = candidates_[from];
      end = kept;
    }
    candidates_.resize(kept);
  }
  SortRuns(candidates_, run_ends,
           [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
  auto better = [](const EntityMatch& a, const EntityMatch& b) {
    if (a.score != b.score) return a.score > b.score;
    return (a.end - a.start) > (b.end - b.start);
  };
  for (size_t i = 0; i < candidates_.size();) {
    size_t j = i + 1;
    uint32_t cluster_end = candidates_[i].end;
    while (j < candidates_.size() && candidates_[j].start < cluster_end) {
      cluster_end = std::max(cluster_end, candidates_[j].end);
      ++j;
    }
    if (j == i + 1) {
      out->push_back(candidates_[i]);
    } else {
      std::sort(candidates_.begin() + i, candidates_.begin() + j, better);
      const size_t first = out->size();
      const auto street = static_cast<uint8_t>(Index(Entity::kStreetAddress));
      const auto name = static_cast<uint8_t>(Index(Entity::kPersonName));
      for (size_t k = i; k < j; ++k) {
        const EntityMatch& m = candidates_[k];
        size_t hit = out->size();
        for (size_t o = first; o < out->size() && hit == out->size(); ++o)
          if (m.start < (*out)[o].end && (*out)[o].start < m.end) hit = o;
        if (hit == out->size()) {
          out->push_back(m);
          continue;
        }
        // A street named after a person ("Bajada Barbara Sáenz 3", "Ivana Gundulića 36"): the
        // name and the street are one span, whichever scored higher, so neither the house
        // number nor a given name is left beside the other's mask.
        // A name that runs on past the street's end is words after the address ("500 Mraz
        // Lakes Retrying …"): not joined.
        EntityMatch& o = (*out)[hit];
        // Two readings of one street ("1 Park Road" and "1 Park Road Suite 758") are joined too.
        const bool pair = (o.entity == street && m.entity == street) ||
                          (o.entity == street && m.entity == name && m.end <= o.end) ||
                          (o.entity == name && m.entity == street && o.end <= m.end);
        // Two readings of one name ("Anna Maria" and "Maria Schmidt") are one name.
        const bool names = o.entity == name && m.entity == name;
        if (!pair && !names) {
          // A name is read from its context onwards: its words before the finding that won
          // are the name ("Dear JOHN" before `AB 12 34 56 C`) when its context vouches for it
          // (0.7: a title or a name word before it; `NINO HC 88 94 11 B` is a label), its words
          // after it are words beside it ("forwarded by X@Y.DE Marked"). A second reading of
          // the same entity ("me at x@y.com" beside the address) is the worse reading of it.
          if (m.entity != o.entity && (m.entity != name || m.score >= 0.7f))
            MaskRemainder(text, m, first, out, m.entity == name);
          continue;
        }
        o.start = std::min(o.start, m.start);
        o.end = std::max(o.end, m.end);
        if (!names) o.entity = street;
        o.score = std::max(o.score, m.score);
        for (size_t q = first; q < out->size();) {  // what the wider span now covers
          if (q != hit && (*out)[q].start < (*out)[hit].end && (*out)[hit].start < (*out)[q].end) {
            (*out)[hit].start = std::min((*out)[hit].start, (*out)[q].start);
            (*out)[hit].end = std::max((*out)[hit].end, (*out)[q].end);
            out->erase(out->begin() + static_cast<std::ptrdiff_t>(q));
            if (q < hit) --hit;
          } else {
            ++q;
          }
        }
      }
      std::sort(out->begin() + first, out->end(),
                [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
    }
    i = j;
  }
  if (opts.enabled.test(Index(Entity::kPhone)) && !pf.bare_numbers().empty() && !out->empty())
    ContactPhones(text, segments, out);
  if (opts.enabled.test(Index(Entity::kStreetAddress)) && out->size() >= 2)
    ContactStreets(text, segments, out);
  // A phone's extension is part of it ("(560) 753-6945 x5955", "… ext. 12").
  const auto phone = static_cast<uint8_t>(Index(Entity::kPhone));
  size_t sgi = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    EntityMatch& m = (*out)[i];
    if (m.entity != phone || m.end + 3 > text.size() ||
        (text[m.end] != ' ' && text.substr(m.end, 2) != ", "))
      continue;
    while (sgi + 1 < segments.size() && m.start >= segments[sgi].end) ++sgi;
    uint32_t q = m.end + (text[m.end] == ',' ? 2 : 1);
    if (text[m.end] == ' ' && (text[q] == 'x' || text[q] == 'X')) {
      ++q;
    } else if (text[m.end] == ' ' && text.substr(q, 3) == "ext") {
      q += 3;
      if (q < text.size() && text[q] == '.') ++q;
      if (q < text.size() && text[q] == ' ') ++q;
    } else if (text.substr(q, 6) == "poste ") {  // Quebec's: "514 555-0199, poste 030"
      q += 6;
    } else {
      continue;
    }
    uint32_t r = q;
    while (r < text.size() && r - q < 6 && IsDigit(text[r])) ++r;
    // Not into the next finding, nor past the value (cells of a batch are one text).
    const uint32_t limit = std::min<uint32_t>(
        i + 1 < out->size() ? (*out)[i + 1].start : text.size(), segments[sgi].end);
    if (r > q && r - q <= 5 && r <= limit && (r == text.size() || !IsAlnum(text[r]))) m.end = r;
  }
}

// A name that only context keeps (0.38-0.5: two words no table knows, "Fañch Gunnarsdóttir")
// is kept in a value that also holds a contact's e-mail, phone, street, SSN or birth date: a
// customer row pasted as text, a ticket about a person.
void Scanner::ContactNames(std::span<const Segment> segments) {
  const float min = detector_->options_.min_score;
  const auto name = static_cast<uint8_t>(Index(Entity::kPersonName));
  bool weak = false, contact = false;
  for (const EntityMatch& m : candidates_) {
    if (m.entity == name) {
      weak = weak || (m.score >= 0.38f && m.score < min);
    } else if (m.entity < kBuiltinEntityCount && m.score >= min) {
      const Entity x = static_cast<Entity>(m.entity);
      contact = contact || x == Entity::kEmail || x == Entity::kPhone ||
                x == Entity::kStreetAddress || x == Entity::kUsSsn || x == Entity::kDateOfBirth;
    }
  }
  if (!weak || !contact) return;
  // The segment of each position by a cursor: each stage's candidates are nearly in text order.
  size_t c = 0;
  auto seg_of = [&](uint32_t pos) {
    while (c > 0 && pos < segments[c].start) --c;
    while (c + 1 < segments.size() && pos >= segments[c].end) ++c;
    return c;
  };
  contact_segs_.assign(segments.size(), 0);
  street_ends_.clear();
  for (const EntityMatch& m : candidates_) {
    if (m.entity == name || m.entity >= kBuiltinEntityCount || m.score < min) continue;
    const Entity x = static_cast<Entity>(m.entity);
    if (x == Entity::kEmail || x == Entity::kPhone || x == Entity::kStreetAddress ||
        x == Entity::kUsSsn || x == Entity::kDateOfBirth)
      contact_segs_[seg_of(m.start)] = 1;
    if (x == Entity::kStreetAddress) street_ends_.push_back(m.end);
  }
  std::sort(street_ends_.begin(), street_ends_.end());
  // The words after a street are its town ("…Apt. 422, Seattle Closing this out"), not a name.
  auto after_street = [&](uint32_t b) {
    auto it = std::upper_bound(street_ends_.begin(), street_ends_.end(), b);
    return it != street_ends_.begin() && b - *(it - 1) <= 3;
  };
  for (EntityMatch& m : candidates_)
    if (m.entity == name && m.score >= 0.38f && m.score < min && contact_segs_[seg_of(m.start)] &&
        !after_street(m.start))
      m.score = std::min(m.score + 0.15f, 1.0f);
}

// Whether digits (after an international prefix "00") start with an assigned country code
// of one, two or three digits.
static bool IntlPrefixCode(std::string_view d) {
  int cc = 0;
  for (size_t i = 0; i < d.size() && i < 3 && IsDigit(d[i]); ++i) {
    cc = cc * 10 + (d[i] - '0');
    if (validate::CountryCallingCode(cc)) return true;
  }
  return false;
}

// What separates two cells of a row: ',', ';' or a tab, with one space after a comma or a
// semicolon as people type lists.
static bool NameCellGap(std::string_view g) {
  return g == "," || g == ", " || g == "\t" || g == ";" || g == "; ";
}

// Whether a person's name at [b, e) is whom to reach: a verb of reaching someone (contact,
// call, reach, text, ring, phone, message, whatsapp, dial, sms) before it, a title between or
// not ("Contact Dr. Kyle Morton"), or as the span's own first word ("Contact Brandy Martin"
// read as one run of capitals).
static bool CalledPerson(std::string_view text, uint32_t begin, uint32_t b, uint32_t e) {
  auto verb = [&](uint32_t w, uint32_t x) {
    if (x - w < 3 || x - w > 8) return false;
    char lw[8];
    for (uint32_t k = w; k < x; ++k) lw[k - w] = Lower(static_cast<unsigned char>(text[k]));
    const std::string_view word(lw, x - w);
    for (std::string_view v : {"contact", "call", "reach", "text", "ring", "phone", "message",
                               "whatsapp", "dial", "sms"})
      if (word == v) return true;
    return false;
  };
  uint32_t x = b;
  while (x < e && IsAlpha(static_cast<unsigned char>(text[x]))) ++x;
  if (x < e && text[x] == ' ' && verb(b, x)) return true;
  for (int words = 0; words < 2; ++words) {
    uint32_t we = b;
    while (we > begin && text[we - 1] == ' ') --we;
    const bool dot = we > begin && text[we - 1] == '.';
    uint32_t w = we - dot;
    while (w > begin && IsAlpha(static_cast<unsigned char>(text[w - 1]))) --w;
    if (verb(w, we - dot) && !dot) return true;
    if (!names::IsTitle(text.substr(w, we - dot - w))) return false;
    b = w;
  }
  return false;
}

// Numbers in a contact's line: a phone beside a person's name and their e-mail, street or
// other phone in the same value ("Jane Roe,jroe@example.com,3574945899,969 Almo Street", a
// CSV line of a contact pasted as text), an id anywhere else. The shapes: ten bare digits of
// a North American number (an area code and an exchange starting 2-9, libphonenumber refuses
// most unassigned ones), 9-11 bare digits after a trunk 0 ("0232038245"), nine starting 6-9
// (Spain's and Poland's "941202852"), 9-12 digits in groups joined by '-' ("06-1-129-4465",
// "4020-64478"). Not keyed (`ticket_no=…`), not after `order`, `invoice`, `#` and the other id
// words.
void Scanner::ContactPhones(std::string_view text, std::span<const Segment> segments,
                            std::vector<EntityMatch>* out) {
  const auto& opts = detector_->options_;
  const auto& info = catalog::Info(Entity::kPhone);
  const size_t found = out->size();
  size_t seg = 0, o = 0;
  for (const NumberRun& run : prefilter_->bare_numbers()) {
    const uint32_t b = run.begin, e = run.end;
    while (seg + 1 < segments.size() && b >= segments[seg].end) ++seg;
    const Segment& sg = segments[seg];
    if (b < sg.start || e > sg.end) continue;
    // Personal data in the same value, found already (out is in text order): a contact is a
    // person's name with an e-mail address, a street or another phone.
    while (o < found && (*out)[o].end <= sg.start) ++o;
    bool name = false, cjk_name = false, reach = false, overlaps = false, called = false;
    bool beside = false;
    for (size_t k = o; k < found && (*out)[k].start < sg.end; ++k) {
      const EntityMatch& m = (*out)[k];
      if (m.start < e && b < m.end) overlaps = true;
      if (m.entity >= kBuiltinEntityCount) continue;
      const Entity x = static_cast<Entity>(m.entity);
      name |= x == Entity::kPersonName;
      // The name's own cell just before the number ("Sean Mendez\t2722937926\t…", a letter
      // signed "-- Bryan Masuda, 5518518400"): the number is the person's.
      beside |= x == Entity::kPersonName && m.end < b && b - m.end <= 2 &&
                NameCellGap(text.substr(m.end, b - m.end));
      // "Contact Brandy Martin at 48705086", "call Jane Doe on 0204 931 824": whom to reach,
      // then where.
      called |= x == Entity::kPersonName && m.end + 4 == b &&
                (text.substr(m.end, 4) == " at " || text.substr(m.end, 4) == " on ") &&
                CalledPerson(text, sg.start, m.start, m.end);
      cjk_name |= x == Entity::kPersonName && static_cast<unsigned char>(text[m.start]) >= 0xE3 &&
                  static_cast<unsigned char>(text[m.start]) <= 0xED;
      reach |= x == Entity::kEmail || x == Entity::kStreetAddress || x == Entity::kPhone;
    }
    // … or in the cell before, of the same line of tab-separated text (each cell is a
    // segment of its own): "Sean Mendez<TAB>2722937926<TAB>28.93%".
    if (!beside && o > 0 && seg > 0 && b == sg.start && text[sg.start - 1] == '\t' &&
        segments[seg - 1].end + 1 == sg.start) {
      const EntityMatch& m = (*out)[o - 1];
      beside = m.entity == Index(Entity::kPersonName) && m.end == segments[seg - 1].end;
      name = name || beside;
    }
    if (!name || overlaps) continue;
    const View v{text.data(), sg.start, sg.end};
    const unsigned char prev = v.at(static_cast<int64_t>(b) - 1), next = v.at(e);
    if (IsAlnum(prev) || prev == '#' || prev == '.' || prev == '-' || prev == '+' ||
        IsAlnum(next) || ((next == '.' || next == '-') && IsDigit(v.at(e + 1))))
      continue;
    // "1234567890,50" is an amount; a CSV's next cell ("…,969 Almo Street") is not, and no
    // amount starts with 0. In a line whose cells a comma separates (one before the number
    // too), the comma after it separates cells as well: "…,35684723,81 King's Avenue,…".
    if (next == ',' && IsDigit(v.at(e + 1)) && text[b] != '0' && prev != ',') {
      uint32_t k = e + 1;
      while (IsDigit(v.at(k))) ++k;
      if (k - e - 1 <= 2 && v.at(k) != ',') continue;
    }
    uint32_t nd = 0, groups = 1, first = 0, last = 0, group = 0, shortest = 99, slashes = 0;
    bool dashed = false, other = false, spaced = true, plain = true, slashed = true;
    for (uint32_t k = b; k < e; ++k) {
      nd += IsDigit(text[k]);
      slashes += text[k] == '/';
      slashed = slashed && (IsDigit(text[k]) || text[k] == ' ' || text[k] == '-' || text[k] == '/');
      plain = plain && (IsDigit(text[k]) || text[k] == ' ' || text[k] == '-');
      dashed = dashed || text[k] == '-';
      other = other || (!IsDigit(text[k]) && text[k] != '-');
      spaced = spaced && (IsDigit(text[k]) || text[k] == ' ');
      groups += text[k] == '-';
      if (text[k] == '-' && first == 0) first = k - b;
      last = text[k] == '-' ? 0 : last + 1;
      group = IsDigit(text[k]) ? group + 1 : (shortest = std::min(shortest, group), 0);
    }
    shortest = std::min(shortest, group);
    // Spaced groups of 2-5 digits, 8-13 in all, in a contact's line or after whom to call
    // ("Lucas Rodrigues, caua40@silveira.com, 11 4540 6114"): the number lexer reads the
    // shapes it knows; these are the rest.
    // A year's first two digits at k, 19 or 20.
    auto year = [&](uint32_t k) {
      return (text[k] == '1' && text[k + 1] == '9') || (text[k] == '2' && text[k + 1] == '0');
    };
    // Not a date written with spaces ("2024 05 12", "12 05 2024").
    auto spaced_date = [&] {
      if (nd != 8 || e - b != 10) return false;
      const std::string_view s = text.substr(b, 10);
      auto num = [&](size_t i) { return (s[i] - '0') * 10 + (s[i + 1] - '0'); };
      if (s[4] == ' ' && s[7] == ' ' && year(b)) return num(5) <= 12 && num(8) <= 31;
      if (s[2] == ' ' && s[5] == ' ' && year(b + 6))
        return (num(0) <= 31 && num(3) <= 12) || (num(0) <= 12 && num(3) <= 31);
      return false;
    };
    const bool grouped =
        other && spaced && shortest >= 2 && group <= 5 && nd >= 8 && nd <= 13 && !spaced_date();
    // A cell of its own in a contact's CSV or TSV line: 8-12 bare digits, the national forms
    // of most countries ("Bina Melo,8920951972,…", "Iga Marciniak,894602355,…"), or 7-13 in
    // groups of spaces and dashes ending in two pairs ("8 800 137-71-83", Senegal's
    // "210-27-81"); not a date. A customer number standing there is masked with it.
    auto cell_edge = [](unsigned char c) { return c == ',' || c == '\t' || c == ';'; };
    // Ending in two pairs, "…-71-83", "… 27 81" (not ZIP+4's "89848-7890" nor ids such as
    // "76-3836-504").
    auto two_pairs = [&](uint32_t end) {
      auto sep = [&](uint32_t k) { return text[k] == '-' || text[k] == ' '; };
      return end - b >= 7 && sep(end - 3) && sep(end - 6) && IsDigit(text[end - 1]) &&
             IsDigit(text[end - 2]) && IsDigit(text[end - 4]) && IsDigit(text[end - 5]);
    };
    // An area code and the number in two groups, "5224-0657", "7950-838508", "33 59461289",
    // "973 746540"; or the number in two, "943422-7688" (not ZIP+4's five and four).
    const uint32_t cut = static_cast<uint32_t>(text.substr(b, e - b).find_first_of(" -"));
    const uint32_t head = cut, tail = e - b - cut - 1;
    // … not a range of years ("2002-2012, 2016-2021  Bruno Haible <bruno@…>").
    const bool two_groups =
        cut < e - b && nd == e - b - 1 && !(head == 4 && tail == 4 && year(b) && year(b + 5));
    const bool area_dash = two_groups && nd >= 8 && nd <= 12 &&
                           ((head >= 2 && head <= 4 && tail >= 4 && tail <= 9) ||
                            (dashed && head >= 6 && head <= 7 && tail == 4));
    const int64_t before = static_cast<int64_t>(b) - 1;
    // A trunk 0 and groups of spaces, dashes or one slash: "0705-044 3577", "06-9/380 2253".
    const bool trunk_groups = slashed && slashes <= 1 && e - b > nd && text[b] == '0' &&
                              text[b + 1] != '0' && nd >= 9 && nd <= 12 && group >= 3 &&
                              !validate::ParseDate(text.substr(b, e - b));
    const bool cell =
        (plain || trunk_groups) &&
        (cell_edge(v.at(before)) ||
         (v.at(before) == ' ' && (v.at(before - 1) == ',' || v.at(before - 1) == ';'))) &&
        (cell_edge(next) || e == sg.end || next == '\n' || next == '\r') &&
        (trunk_groups ||
         (other || dashed ? nd >= 7 && nd <= 13 && (two_pairs(e) || area_dash) &&
                                !validate::ParseDate(text.substr(b, e - b)) && !spaced_date()
                          : nd >= 8 && nd <= 12));
    // Dates, versions (the number lexer reads those); after whom to call, digits in groups of
    // spaces and dashes ("61 9150-3109"), but no date.
    // "00", a country code and the number, written as one run or in two ("0033784193257",
    // "0039345 409130"): the international prefix is the phone's own.
    const bool intl00 = !dashed && nd >= 11 && nd <= 17 && text[b] == '0' && text[b + 1] == '0' &&
                        text[b + 2] != '0' && groups == 1 && (!other || spaced) &&
                        IntlPrefixCode(text.substr(b + 2, 3));
    if (other && !grouped && !(called && plain) && !cell && !intl00) continue;
    if (called && validate::ParseDate(text.substr(b, e - b))) continue;
    // In groups: a trunk 0 first ("06-1-129-4465") or an area code and the number ("4020-
    // 64478"), ending in 4+ digits; not the 3-2-4 of an SSN, nor ids such as "76-3836-504".
    // … or a trunk or country digit alone first, as Russia and North America write a
    // toll-free or long-distance number: "8-800-818-4405", "1-800-555-0199".
    const bool trunk_digit = groups == 4 && first == 1 && nd == 11 && last == 4 &&
                             (text[b] == '8' || text[b] == '7' || text[b] == '1');
    if (dashed &&
        (last < 4 ||
         !(text[b] == '0' || (groups == 2 && first >= 2 && first <= 4) || trunk_digit) || nd < 9 ||
         nd > 12) &&
        !called && !cell)
      continue;
    const bool nanp = !dashed && nd == 10 && text[b] >= '2' && text[b + 3] >= '2' &&
                      !(text[b + 1] == '1' && text[b + 2] == '1');
    const bool trunk = !dashed && nd >= 9 && nd <= 11 && text[b] == '0' && text[b + 1] != '0';
    const bool nine = !dashed && nd == 9 && text[b] >= '6';
    // China's mobiles, 1[3-9] and nine digits: beside a name in Chinese characters they are
    // the person's phone with nothing else on the line ("收货人: 王秀英 13812345678 北京市…"), and
    // may follow the name's own characters without a space.
    const bool cn_mobile = cjk_name && !dashed && nd == 11 && text[b] == '1' && text[b + 1] >= '3';
    // After whom to call, any 7-15 digits are the number to call them on.
    const bool after_call = called && nd >= 7 && nd <= 15 && (!dashed || last >= 2);
    if (!nanp && !trunk && !nine && !(dashed && nd >= 9 && nd <= 12) && !cn_mobile && !grouped &&
        !after_call && !cell && !intl00)
      continue;
    if (!reach && !cn_mobile && !after_call && !beside) continue;
    if (PrecedingWordIs(v, b, info.negative)) continue;
    // A keyed value is what its key says (`ticket_no=…`, `"account_id": "…"`, `ref no. …`):
    // phone keys are read by the keyword stage. Only a number standing in a list or text.
    int64_t q = b;
    while (q > sg.start && b - q < 4 &&
           (v.at(q - 1) == ' ' || v.at(q - 1) == '"' || v.at(q - 1) == '\'' || v.at(q - 1) == '\t'))
      --q;
    const unsigned char lead = q > sg.start ? v.at(q - 1) : 0;
    if (lead != 0 && lead != ',' && lead != '\t' && lead != '(' && lead != '\n' && lead != ';' &&
        !(cn_mobile && lead >= 0x80) && !after_call && !beside)
      continue;
    float score = 0.6f + (sg.hints ? sg.hints->boost[Index(Entity::kPhone)] : 0.0f);
    if (score < opts.min_score) continue;
    out->push_back({b, e, static_cast<uint8_t>(Index(Entity::kPhone)), score});
  }
  if (out->size() > found)
    std::inplace_merge(
        out->begin(), out->begin() + static_cast<std::ptrdiff_t>(found), out->end(),
        [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
}

// Streets in a contact's line of comma- or semicolon-separated cells: "Michaela Svačinová,
// ludvik39@seznam.cz,+420 409 169 549,Sovova 8,Pardubice", as a CRM or a shop exports its
// customers. After a person's name and their e-mail address or phone, each in a cell of its
// own, the cell right after the e-mail's or the phone's that reads whole as a street line
// (StreetLineValue: a house number beside a word) and that nothing else was found in is the
// person's street; not a cell of more than 60 bytes, nor one that ends in a lower-case word.
// (A product in that place, "…,555-123-4567,Windows 10,…", is masked as one too.)
void Scanner::ContactStreets(std::string_view text, std::span<const Segment> segments,
                             std::vector<EntityMatch>* out) {
  const size_t found = out->size();
  const auto name = static_cast<uint8_t>(Index(Entity::kPersonName));
  const auto email = static_cast<uint8_t>(Index(Entity::kEmail));
  const auto phone = static_cast<uint8_t>(Index(Entity::kPhone));
  // Only the lines of a name are read: most segments of a batch hold none.
  size_t seg = 0;
  uint32_t done = 0;  // the end of the last line read
  for (size_t i = 0; i < found; ++i) {
    if ((*out)[i].entity != name || (*out)[i].start < done) continue;
    while (seg + 1 < segments.size() && (*out)[i].start >= segments[seg].end) ++seg;
    const Segment& sg = segments[seg];
    if ((*out)[i].start < sg.start) continue;
    uint32_t line = (*out)[i].start;
    while (line > sg.start && text[line - 1] != '\n') --line;
    const auto nl = text.substr(line, sg.end - line).find('\n');
    const uint32_t le = nl == std::string_view::npos ? sg.end : line + static_cast<uint32_t>(nl);
    done = le;
    // The line's findings, and its separator: the one it has two of.
    size_t k0 = i;
    while (k0 > 0 && (*out)[k0 - 1].end > line) --k0;
    size_t k1 = k0;
    bool has_name = false, reach = false;
    uint32_t name_end = 0;
    for (; k1 < found && (*out)[k1].start < le; ++k1) {
      const EntityMatch& m = (*out)[k1];
      if (m.entity == name && !has_name) has_name = true, name_end = m.end;
      reach |= has_name && (m.entity == email || m.entity == phone);
    }
    const std::string_view l = text.substr(line, le - line);
    const char sep = std::count(l.begin(), l.end(), ',') >= 2   ? ','
                     : std::count(l.begin(), l.end(), ';') >= 2 ? ';'
                                                                : 0;
    if (has_name && reach && sep) {
      uint32_t cb = line;
      bool after_reach = false;  // the cell before holds the e-mail address or the phone
      while (cb < le) {
        uint32_t ce = cb;
        while (ce < le && text[ce] != sep) ++ce;
        uint32_t b = cb, e = ce;
        while (b < e && text[b] == ' ') ++b;
        while (e > b && text[e - 1] == ' ') --e;
        bool taken = false, reach_cell = false;
        for (size_t k = k0; k < k1; ++k) {
          const EntityMatch& m = (*out)[k];
          taken = taken || (m.start < ce && cb < m.end);
          reach_cell = reach_cell || ((m.entity == email || m.entity == phone) && m.start <= b &&
                                      m.end >= e && e > b);
        }
        const std::string_view cell = text.substr(b, e - b);
        if (!taken && after_reach && b >= name_end && e - b >= 3 && e - b <= 60 &&
            StreetLineValue(cell) == cell.size() && !EndsInLowerWord(cell))
          out->push_back({b, e, static_cast<uint8_t>(Index(Entity::kStreetAddress)), 0.6f});
        after_reach = reach_cell;
        cb = ce + 1;
      }
    }
  }
  if (out->size() > found)
    std::inplace_merge(
        out->begin(), out->begin() + static_cast<std::ptrdiff_t>(found), out->end(),
        [](const EntityMatch& a, const EntityMatch& b) { return a.start < b.start; });
}

}  // namespace veil::masker
