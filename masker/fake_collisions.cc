// How often `fake` maps two distinct values to one surrogate: N distinct generated values per
// entity (default 1,000,000) through the strategy with a random key; prints, per entity, the
// distinct surrogates, the values that share a surrogate with an earlier one, and the rate;
// then, with the surrogate registry a profile keeps (fake_registry.h), how many originals moved
// to another draw and how many still share one (0 but for shifted dates, which it leaves out).
//
//   build/masker/fake_collisions [N]
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_set>

#include "masker/strategy.h"

using veil::masker::Entity;
using veil::masker::MaskKey;
using veil::masker::Strategy;
using veil::masker::StrategyApplier;

namespace {

std::string Value(Entity e, unsigned long long i) {
  char b[64];
  switch (e) {
    case Entity::kPersonName:
      std::snprintf(b, sizeof(b), "Person%llu Surname%llu", (unsigned long long)(i % 1000),
                    (unsigned long long)(i / 1000));
      break;
    case Entity::kEmail:
      std::snprintf(b, sizeof(b), "customer.%llu@mailhost.com", (unsigned long long)i);
      break;
    case Entity::kPhone:
      std::snprintf(b, sizeof(b), "(%03llu) %03llu-%04llu", 200 + i % 800,
                    (unsigned long long)(200 + (i / 800) % 800), (unsigned long long)(i / 640000));
      break;
    case Entity::kCreditCard:
      std::snprintf(b, sizeof(b), "4%015llu", (unsigned long long)i);
      break;
    case Entity::kUsSsn:
      std::snprintf(b, sizeof(b), "%03llu-%02llu-%04llu", 1 + i % 665,
                    (unsigned long long)(1 + (i / 665) % 99), (unsigned long long)(1 + i % 9999));
      break;
    case Entity::kIban:
      std::snprintf(b, sizeof(b), "DE00%018llu", (unsigned long long)i);
      break;
    case Entity::kDateOfBirth: {
      // Distinct dates run out (36,500 a century): the rate shows how shifting merges them.
      std::snprintf(b, sizeof(b), "%04llu-%02llu-%02llu", 1900 + (i / 336) % 100, 1 + (i / 28) % 12,
                    1 + i % 28);
      break;
    }
    default:
      b[0] = 0;
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  std::array<uint8_t, 32> k{};
  RAND_bytes(k.data(), k.size());
  std::printf("%-14s %10s %10s %10s %9s %10s %10s %10s\n", "entity", "inputs", "distinct",
              "collided", "rate", "registry:", "moved", "shared");
  for (Entity e : {Entity::kPersonName, Entity::kEmail, Entity::kPhone, Entity::kCreditCard,
                   Entity::kUsSsn, Entity::kIban, Entity::kDateOfBirth}) {
    // Without a registry (what two originals draw), then with one (what a masked copy gets).
    StrategyApplier plain(MaskKey::FromBytes(k));
    veil::masker::fake::Options with;
    with.registry = std::make_shared<veil::masker::fake::SurrogateRegistry>();
    StrategyApplier checked(MaskKey::FromBytes(k), with);
    std::unordered_set<std::string> inputs, outputs, unique_outputs;
    inputs.reserve(n);
    outputs.reserve(n);
    std::string out;
    const auto name = veil::masker::kBuiltinEntityNames[veil::masker::Index(e)];
    for (uint64_t i = 0; i < n; ++i) {
      std::string v = Value(e, i);
      if (!inputs.insert(v).second) continue;
      out.clear();
      plain.Apply(Strategy::kFake, static_cast<uint8_t>(e), name, v, &out);
      outputs.insert(out);
      out.clear();
      checked.Apply(Strategy::kFake, static_cast<uint8_t>(e), name, v, &out);
      unique_outputs.insert(out);
    }
    uint64_t collided = inputs.size() - outputs.size();
    uint64_t shared = inputs.size() - unique_outputs.size();
    std::printf("%-14s %10zu %10zu %10llu %8.4f%% %10s %10llu %10llu\n", std::string(name).c_str(),
                inputs.size(), outputs.size(), (unsigned long long)collided,
                100.0 * static_cast<double>(collided) / static_cast<double>(inputs.size()), "",
                (unsigned long long)with.registry->moved(), (unsigned long long)shared);
  }
  return 0;
}
