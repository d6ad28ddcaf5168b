// The entity catalog's names: every kind of sensitive value veil detects (SPEC §6).
//
// Entity ids are small integers so that per-entity counters and strategy tables are plain
// arrays. Custom regex entities from a profile get ids from kFirstCustom upwards.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace veil::masker {

enum class Entity : uint8_t {
  kEmail,
  kPersonName,
  kPhone,
  kCreditCard,
  kIban,
  kUsSsn,
  kUsItin,
  kUsPassport,
  kUsDriverLicense,
  kUsBankRouting,
  kUkNino,
  kUkNhs,
  kUsNpi,
  kDateOfBirth,
  kIpAddress,
  kMacAddress,
  kStreetAddress,
  kJwt,
  kAwsAccessKey,
  kAwsSecretKey,
  kGcpApiKey,
  kGithubToken,
  kSlackToken,
  kStripeKey,
  kOpenAiApiKey,
  kPrivateKey,
  kPasswordInUrl,
  kGenericSecret,
  kCryptoWallet,
  kNationalId,   // a national identification number of another country (Aadhaar, CPF, PESEL, …)
  kApiToken,     // a provider's credential by its published shape (GitLab, npm, Hugging Face, …)
  kBankAccount,  // a bank account number after its label (not an IBAN: that is kIban)
  kCardCvv,      // a card's security code (CVV/CVC/CID): PCI DSS forbids keeping it at all
  kBuiltinCount,
};

inline constexpr size_t kBuiltinEntityCount = static_cast<size_t>(Entity::kBuiltinCount);
// Custom entities of a profile are numbered from here; at most kMaxEntities in all.
inline constexpr uint8_t kFirstCustom = 64;
inline constexpr size_t kMaxEntities = 128;

inline constexpr std::array<std::string_view, kBuiltinEntityCount> kBuiltinEntityNames = {
    "EMAIL",           "PERSON_NAME",    "PHONE",
    "CREDIT_CARD",     "IBAN",           "US_SSN",
    "US_ITIN",         "US_PASSPORT",    "US_DRIVER_LICENSE",
    "US_BANK_ROUTING", "UK_NINO",        "UK_NHS",
    "US_NPI",          "DATE_OF_BIRTH",  "IP_ADDRESS",
    "MAC_ADDRESS",     "STREET_ADDRESS", "JWT",
    "AWS_ACCESS_KEY",  "AWS_SECRET_KEY", "GCP_API_KEY",
    "GITHUB_TOKEN",    "SLACK_TOKEN",    "STRIPE_KEY",
    "OPENAI_API_KEY",  "PRIVATE_KEY",    "PASSWORD_IN_URL",
    "GENERIC_SECRET",  "CRYPTO_WALLET",  "NATIONAL_ID",
    "API_TOKEN",       "BANK_ACCOUNT",   "CARD_CVV",
};

constexpr size_t Index(Entity e) { return static_cast<size_t>(e); }

inline std::optional<Entity> BuiltinEntityFromName(std::string_view name) {
  for (size_t i = 0; i < kBuiltinEntityCount; ++i) {
    if (kBuiltinEntityNames[i] == name) return static_cast<Entity>(i);
  }
  return std::nullopt;
}

}  // namespace veil::masker
