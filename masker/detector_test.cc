#include "masker/detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace veil::masker {
namespace {

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = Detector::Create({});
    ASSERT_TRUE(d.ok()) << d.error().message;
    detector_ = new std::shared_ptr<const Detector>(*d);
  }
  // "ENTITY:text" for each finding, in order.
  std::vector<std::string> Find(std::string_view text) {
    Scanner s(*detector_);
    std::vector<EntityMatch> out;
    s.Scan(text, &out);
    std::vector<std::string> r;
    for (const auto& m : out)
      r.push_back(std::string((*detector_)->EntityName(m.entity)) + ":" +
                  std::string(text.substr(m.start, m.end - m.start)));
    return r;
  }
  static std::shared_ptr<const Detector>* detector_;
};
std::shared_ptr<const Detector>* DetectorTest::detector_ = nullptr;

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(DetectorTest, IssueExampleOffsets) {
  Scanner s(*detector_);
  std::vector<EntityMatch> out;
  std::string_view line = "card 4111 1111 1111 1111, mail bob@example.com";
  s.Scan(line, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].start, 5u);
  EXPECT_EQ(out[0].end, 24u);
  EXPECT_EQ((*detector_)->EntityName(out[0].entity), "CREDIT_CARD");
  EXPECT_EQ(out[1].start, 31u);
  EXPECT_EQ(out[1].end, 46u);
  EXPECT_EQ((*detector_)->EntityName(out[1].entity), "EMAIL");
}

TEST_F(DetectorTest, Emails) {
  EXPECT_THAT(Find("to: Bob.Smith+tag@mail.example.co.uk;"),
              ElementsAre("EMAIL:Bob.Smith+tag@mail.example.co.uk"));
  EXPECT_THAT(Find("image@2x.png and @mention and user@localhost"), IsEmpty());
}

TEST_F(DetectorTest, Cards) {
  EXPECT_THAT(Find("amex 3782-822463-10005 ok"), ElementsAre("CREDIT_CARD:3782-822463-10005"));
  EXPECT_THAT(Find("visa 4111111111111111"), ElementsAre("CREDIT_CARD:4111111111111111"));
  EXPECT_THAT(Find("order 4111 1111 1111 1112"), IsEmpty());  // Luhn fails
}

// After a person keyword: a surname alone after a title, a name in another script, a
// lower-case name after a name label; placeholders and job titles are not names.
TEST_F(DetectorTest, PersonKeywordForms) {
  EXPECT_THAT(Find("contact: Ms. Chen"), ElementsAre("PERSON_NAME:Chen"));
  EXPECT_THAT(Find("seen by Dr. Okafor today"), ElementsAre("PERSON_NAME:Okafor"));
  EXPECT_THAT(Find("customer name: mary jane watson"), ElementsAre("PERSON_NAME:mary jane watson"));
  EXPECT_THAT(Find("display_name=jose garcia"), ElementsAre("PERSON_NAME:jose garcia"));
  EXPECT_THAT(Find("name: unknown"), IsEmpty());
  EXPECT_THAT(Find("name: test user"), IsEmpty());
  EXPECT_THAT(Find("customer Web Engineer"), IsEmpty());
  EXPECT_THAT(Find("contact Support Team"), IsEmpty());
  EXPECT_THAT(Find("the customer called"), IsEmpty());
}

// Names in scripts and spellings beyond Latin-1: a span never ends inside a word (the rest of
// the name would pass), Cyrillic capitals start a run and romanise into the name table, words
// of scripts without capitals count with context before or a speech verb after.
TEST_F(DetectorTest, NamesOfTheWorld) {
  EXPECT_THAT(Find("Thanks, Xuân Trường Trần"), ElementsAre("PERSON_NAME:Xuân Trường Trần"));
  EXPECT_THAT(Find("reviewed by Ánh Tuyết Trương on Monday"),
              ElementsAre("PERSON_NAME:Ánh Tuyết Trương"));
  EXPECT_THAT(Find("Customer Phương Thể Bùi called"), ElementsAre("PERSON_NAME:Phương Thể Bùi"));
  EXPECT_THAT(Find("Please refund Никита Абрамов before Friday"),
              ElementsAre("PERSON_NAME:Никита Абрамов"));
  EXPECT_THAT(Find("Анна Сергеевна Петрова"), ElementsAre("PERSON_NAME:Анна Сергеевна Петрова"));
  EXPECT_THAT(Find("spoke with Ionuț Rusu today"), ElementsAre("PERSON_NAME:Ionuț Rusu"));
  EXPECT_THAT(Find("assigned to Ηλίας Βουρδουμπάς"), ElementsAre("PERSON_NAME:Ηλίας Βουρδουμπάς"));
  EXPECT_THAT(Find("耀杰 焦 wrote: the package arrived"), ElementsAre("PERSON_NAME:耀杰 焦"));
  EXPECT_THAT(Find("Thanks, محمود بن حمودة"), ElementsAre("PERSON_NAME:محمود بن حمودة"));
  EXPECT_THAT(Find("Tejumola Adeleke wrote: it arrived damaged"),
              ElementsAre("PERSON_NAME:Tejumola Adeleke"));
  EXPECT_THAT(Find("spoke with Дем’ян Коваленко today"),
              ElementsAre("PERSON_NAME:Дем’ян Коваленко"));
  EXPECT_THAT(Find("Dear Seán O’Brien,"), ElementsAre("PERSON_NAME:Seán O’Brien"));
  // Not names: no context for a run of an uncased script, a lower-case Cyrillic phrase.
  EXPECT_THAT(Find("商品 已 发货"), IsEmpty());
  EXPECT_THAT(Find("заказ отправлен сегодня"), IsEmpty());
  EXPECT_THAT(Find("The package arrived damaged"), IsEmpty());
}

TEST_F(DetectorTest, NationalIdsOfOtherCountries) {
  EXPECT_THAT(Find("ssn 536-22-1234"), ElementsAre("US_SSN:536-22-1234"));
  EXPECT_THAT(Find("id 000-12-3456 and 666-12-3456"), IsEmpty());
  EXPECT_THAT(Find("ITIN 912-78-1234"), ElementsAre("US_ITIN:912-78-1234"));
  EXPECT_THAT(Find("SSN: 536221234"), ElementsAre("US_SSN:536221234"));
  // Never issued, but called an SSN: test data and typos are full of them (shape first).
  EXPECT_THAT(Find("SSN#: 123-45-6789"), ElementsAre("US_SSN:123-45-6789"));
  EXPECT_THAT(Find("ssn:000123456"), ElementsAre("US_SSN:000123456"));
  EXPECT_THAT(Find("social security number on file: 078-05-1120"),
              ElementsAre("US_SSN:078-05-1120"));
  EXPECT_THAT(Find("lot 078-05-1120 shipped"), IsEmpty());
  EXPECT_THAT(Find("nino AB 12 34 56 C."), ElementsAre("UK_NINO:AB 12 34 56 C"));
  EXPECT_THAT(Find("NHS number 943 476 5919"), ElementsAre("UK_NHS:943 476 5919"));
  EXPECT_THAT(Find("provider NPI: 1245319599"), ElementsAre("US_NPI:1245319599"));
  EXPECT_THAT(Find("routing number 021000021"), ElementsAre("US_BANK_ROUTING:021000021"));
  EXPECT_THAT(Find("passport no. C12345678"), ElementsAre("US_PASSPORT:C12345678"));
  EXPECT_THAT(Find("DL# A1234567"), ElementsAre("US_DRIVER_LICENSE:A1234567"));
  EXPECT_THAT(Find("invoice 021000021 paid"), IsEmpty());
}

// Other countries' national ids: in their own printed shapes with their checks, or named.
TEST_F(DetectorTest, NationalIds) {
  EXPECT_THAT(Find("Aadhaar 2345 6789 0124"), ElementsAre("NATIONAL_ID:2345 6789 0124"));
  EXPECT_THAT(Find("id 2345-6789-0124 ok"), ElementsAre("NATIONAL_ID:2345-6789-0124"));
  EXPECT_THAT(Find("cliente 529.982.247-25"), ElementsAre("NATIONAL_ID:529.982.247-25"));
  EXPECT_THAT(Find("holder 11010519491231002X."), ElementsAre("NATIONAL_ID:11010519491231002X"));
  EXPECT_THAT(Find("assuré 1 84 12 76 451 089 46"),
              ElementsAre("NATIONAL_ID:1 84 12 76 451 089 46"));
  EXPECT_THAT(Find("member 900101-1234568"), ElementsAre("NATIONAL_ID:900101-1234568"));
  EXPECT_THAT(Find("RRN 900101-1234567"), ElementsAre("NATIONAL_ID:900101-1234567"));
  EXPECT_THAT(Find("kund 811218-9876"), ElementsAre("NATIONAL_ID:811218-9876"));
  EXPECT_THAT(Find("PESEL: 44051401359"), ElementsAre("NATIONAL_ID:44051401359"));
  EXPECT_THAT(Find("BSN 111222333"), ElementsAre("NATIONAL_ID:111222333"));
  EXPECT_THAT(Find("Steuer-ID 65929970489"), ElementsAre("NATIONAL_ID:65929970489"));
  EXPECT_THAT(Find("DNI 12345678Z"), ElementsAre("NATIONAL_ID:12345678Z"));
  EXPECT_THAT(Find("NIE X1234567L"), ElementsAre("NATIONAL_ID:X1234567L"));
  EXPECT_THAT(Find("codice fiscale RSSMRA85T10A562S"), ElementsAre("NATIONAL_ID:RSSMRA85T10A562S"));
  EXPECT_THAT(Find("CURP: GOMC800101HDFRRL09"), ElementsAre("NATIONAL_ID:GOMC800101HDFRRL09"));
  EXPECT_THAT(Find("NRIC S1234567D"), ElementsAre("NATIONAL_ID:S1234567D"));
  EXPECT_THAT(Find("PAN: BNZPM2501F"), ElementsAre("NATIONAL_ID:BNZPM2501F"));
  EXPECT_THAT(Find("PAN 4111111111111111"), ElementsAre("CREDIT_CARD:4111111111111111"));
  EXPECT_THAT(Find("the pan is hot"), IsEmpty());
  EXPECT_THAT(Find("身份证号 11010519491231002X"), ElementsAre("NATIONAL_ID:11010519491231002X"));
  // Checks that fail without a name, ids of other shapes, an SSN under its other name.
  EXPECT_THAT(Find("ref 2345 6789 0125"), IsEmpty());
  EXPECT_THAT(Find("order 529.982.247-26"), IsEmpty());
  EXPECT_THAT(Find("national_id=536-22-1234"), ElementsAre("US_SSN:536-22-1234"));
}

TEST_F(DetectorTest, Iban) {
  EXPECT_THAT(Find("IBAN DE89 3704 0044 0532 0130 00, thanks"),
              ElementsAre("IBAN:DE89 3704 0044 0532 0130 00"));
  EXPECT_THAT(Find("GB82WEST12345698765432"), ElementsAre("IBAN:GB82WEST12345698765432"));
  EXPECT_THAT(Find("GB83WEST12345698765432"), IsEmpty());
  // Typed in lower case, grouped or not; an IBAN earlier on the line keeps the next number
  // out of it.
  EXPECT_THAT(Find("iban de89 3704 0044 0532 0130 00"),
              ElementsAre("IBAN:de89 3704 0044 0532 0130 00"));
  EXPECT_THAT(Find("refund to gb82west12345698765432 today"),
              ElementsAre("IBAN:gb82west12345698765432"));
  EXPECT_THAT(Find("de89 3704 0044 0532 0130 01"), IsEmpty());
  EXPECT_THAT(Find("wire to GI60QMNO575IT2326548K27 and number 965 156 196"),
              ElementsAre("IBAN:GI60QMNO575IT2326548K27", "PHONE:965 156 196"));
}

// Other countries' formats: a country code in parentheses (Indonesia, Georgia), a number after
// "contact", Norway's 3-2-3 after a phone word (no date, whatever its eight digits).
TEST_F(DetectorTest, PhonesOfOtherCountries) {
  EXPECT_THAT(Find("wa (+62) 27 2588 120 ok"), ElementsAre("PHONE:(+62) 27 2588 120"));
  EXPECT_THAT(Find("call (+62) 796 9830 6532 tomorrow"), ElementsAre("PHONE:(+62) 796 9830 6532"));
  EXPECT_THAT(Find("Contact: 42 64 15 73"), ElementsAre("PHONE:42 64 15 73"));
  EXPECT_THAT(Find("call 340 29 266 tomorrow"), ElementsAre("PHONE:340 29 266"));
  EXPECT_THAT(Find("call 2024-05-12"), IsEmpty());
  EXPECT_THAT(Find("contact jane@example.com"), ElementsAre("EMAIL:jane@example.com"));
}

TEST_F(DetectorTest, Phones) {
  EXPECT_THAT(Find("call +44 20 7946 0958 now"), ElementsAre("PHONE:+44 20 7946 0958"));
  EXPECT_THAT(Find("office (650) 253-0000"), ElementsAre("PHONE:(650) 253-0000"));
  EXPECT_THAT(Find("phone: 6502530000"), ElementsAre("PHONE:6502530000"));
}

TEST_F(DetectorTest, Network) {
  EXPECT_THAT(Find("client=203.0.113.7:5432"), ElementsAre("IP_ADDRESS:203.0.113.7"));
  EXPECT_THAT(Find("from [2001:db8::1]:22"), ElementsAre("IP_ADDRESS:2001:db8::1"));
  EXPECT_THAT(Find("at 12:30:45 std::string v1.2.3"), IsEmpty());
  EXPECT_THAT(Find("hw 00:1a:2b:3c:4d:5e"), ElementsAre("MAC_ADDRESS:00:1a:2b:3c:4d:5e"));
}

TEST_F(DetectorTest, Secrets) {
  EXPECT_THAT(Find("key=AKIAIOSFODNN7EXAMPLE"), IsEmpty());
  EXPECT_THAT(Find("AKIAZ3MRQXRTVL4GX7PQ"), ElementsAre("AWS_ACCESS_KEY:AKIAZ3MRQXRTVL4GX7PQ"));
  EXPECT_THAT(Find("postgres://app:S3cr3t-Pa55@db.internal:5432/orders"),
              ElementsAre("PASSWORD_IN_URL:S3cr3t-Pa55"));
  EXPECT_THAT(Find("DB_PASSWORD=q8Zr2LmX9vTe4WpK"), ElementsAre("GENERIC_SECRET:q8Zr2LmX9vTe4WpK"));
  EXPECT_THAT(Find("password=changeme token=${TOKEN}"), IsEmpty());
  EXPECT_THAT(Find("id 550e8400-e29b-41d4-a716-446655440000 sha "
                   "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
              IsEmpty());
}

TEST_F(DetectorTest, DateOfBirthNeedsContext) {
  EXPECT_THAT(Find("DOB: 1984-03-07"), ElementsAre("DATE_OF_BIRTH:1984-03-07"));
  EXPECT_THAT(Find("born March 7, 1984 in Ohio"), ElementsAre("DATE_OF_BIRTH:March 7, 1984"));
  EXPECT_THAT(Find("created 2024-03-07"), IsEmpty());
}

TEST_F(DetectorTest, SegmentsDoNotLeak) {
  Scanner s(*detector_);
  std::string row = "phone\n6502530000";
  Segment segs[] = {{0, 5, nullptr}, {6, 16, nullptr}};
  std::vector<EntityMatch> out;
  s.Scan(row, segs, &out);
  EXPECT_TRUE(out.empty());  // "phone" in the previous cell is not context for this one
}

}  // namespace
}  // namespace veil::masker
