#!/usr/bin/ruby
# frozen_string_literal: true

# Contact data from a fifth outside generator this project does not shape: Ruby's ffaker
# (Debian's ruby-ffaker 2.20, MIT), a library apart from Faker with its own data: the names,
# addresses and phones of each of its locale modules (NameDA, AddressFR, PhoneNumberRU, …),
# every phone method a module has, as it writes them (bare national numbers, "00" prefixes,
# Russia's "8 800 137-71-83", Senegal's "210-27-81"), and the national ids of its
# Identification modules (Brazil's CPF and RG, Chile's RUT, Colombia's cédula, Aadhaar, Korea's
# RRN, Mexico's CURP, RFC and NSS, Poland's PESEL and identity card, Taiwan's id, Sweden's
# personnummer, US SSNs), in contact, CSV, TSV, JSON and shipping templates of this project,
# with cities of the same locales as unlabeled hard negatives.
#
#     /usr/bin/ruby tests/data/ffaker_contacts.rb --seed 1 [--per-locale 60] --out FILE
#
# Left out, as ffaker spoils them: Greek streets (it prints an array: '["Οδός", "Πάροδος"] …'),
# and its Italian "codice fiscale", twenty digits where the real one has sixteen characters.

require 'ffaker'
require_relative 'labeled_line'

opts = generator_options(60)

FFaker::Random.seed = opts[:seed]
srand(opts[:seed]) # a few of its modules draw from Kernel#rand
RND = Random.new(opts[:seed])
OUT = opts[:out] ? File.open(opts[:out], 'w') : $stdout

def emit(parts, locale, kind)
  OUT.puts labeled_line(parts, "ffaker:#{locale}", kind)
end

# A module's method may raise for some inputs; such a value is simply not generated.
def value
  yield
rescue StandardError, NotImplementedError
  nil
end

def locale_module(kind, loc)
  name = "#{kind}#{loc}"
  return FFaker.const_get(kind) if loc == 'EN'
  FFaker.const_defined?(name, false) ? FFaker.const_get(name) : nil
end

LOCALES = %w[EN AU BR CA CH CHDE CHFR CHIT DA DE FI FR GR ID IN IT JA KR MX NL PL RU SE SN UA
             UK US AR CN CS ES GA KH NB PH TH THEN TW VN CU SG].freeze
# Methods of the PhoneNumber modules that return a part of a number, or no phone.
NOT_PHONES = %w[imei area_code exchange_code country_code contry_code phone_calling_code
                e164_country_code international_country_code mobile_phone_prefix
                home_work_phone_prefix phone_prefix mobile_prefix region_prefix area_prefix
                country_prefix home_phone_prefix homework_phone_prefix mobile_phone_number_format
                phone_number_format home_phone_number_format].freeze
# Surname first and unspaced.
SURNAME_FIRST = %w[CN JA KR TW].freeze

LOCALES.each do |loc|
  names = locale_module('Name', loc)
  addresses = locale_module('Address', loc)
  phones = locale_module('PhoneNumber', loc)
  phone_methods = phones ? (phones.methods - Object.methods - Module.methods).map(&:to_s)
                                  .grep(/number|phone/) - NOT_PHONES : []
  opts[:per].times do
    first = names && value { names.respond_to?(:first_name) ? names.first_name : names.first_name_male }
    last = names && value { names.last_name }
    name = first && last ? (SURNAME_FIRST.include?(loc) ? "#{last}#{first}" : "#{first} #{last}") : nil
    phone = phone_methods.empty? ? nil : value { phones.public_send(phone_methods.sample(random: RND)) }
    phone = nil if phone && phone.count('0-9') < 7
    street = addresses && value do
      addresses.respond_to?(:street_address) ? addresses.street_address : addresses.street
    end
    street = nil if street&.start_with?('[')
    city = (addresses && value { addresses.city }).to_s
    order = RND.rand(10_000..99_999_999).to_s
    case RND.rand(8)
    when 0
      if name && phone
        emit(['Customer ', [:PERSON_NAME, name], ' called from ', [:PHONE, phone],
              ' about order #', order, '.'], loc, 'text')
      end
    when 1
      if name && phone && street
        emit([[:PERSON_NAME, name], ',', [:PHONE, phone], ',', [:STREET_ADDRESS, street], ',', city],
             loc, 'row')
      end
    when 2
      if name && phone && street
        emit(['{"name":"', [:PERSON_NAME, name], '","phone":"', [:PHONE, phone], '","address":"',
              [:STREET_ADDRESS, street], '"}'], loc, 'json')
      end
    when 3
      if name && street
        emit(['Ship to: ', [:PERSON_NAME, name], ', ', [:STREET_ADDRESS, street], ', ', city], loc,
             'text')
      end
    when 4
      if name && phone
        emit(['name: ', [:PERSON_NAME, name], "\tphone: ", [:PHONE, phone], "\tcity: ", city], loc,
             'row')
      end
    when 5
      if first && street && phone
        emit(['Hi ', [:PERSON_NAME, first], ', your parcel to ', [:STREET_ADDRESS, street],
              ' is on its way. Call ', [:PHONE, phone]], loc, 'text')
      end
    when 6
      emit(['Address: ', [:STREET_ADDRESS, street], '; phone ', [:PHONE, phone]], loc, 'text') if street && phone
    when 7
      emit(['Order ', order, ' shipped from ', [nil, city], '.'], loc, 'text') unless city.empty?
    end
  end
end

# National ids, after the label each country gives them.
ID = FFaker::IdentificationBR
opts[:per].times do
  emit(['ssn: ', [:US_SSN, FFaker::SSN.ssn]], 'US', 'text')
  emit(['CPF ', [:NATIONAL_ID, [ID.cpf, ID.pretty_cpf].sample(random: RND)]], 'BR', 'text')
  emit(['RG ', [:NATIONAL_ID, [ID.rg, ID.pretty_rg].sample(random: RND)]], 'BR', 'text')
  emit(['RUT ', [:NATIONAL_ID, FFaker::IdentificationESCL.rut]], 'ESCL', 'text')
  emit(['cédula ', [:NATIONAL_ID, FFaker::IdentificationESCO.id]], 'ESCO', 'text')
  emit(['Aadhaar ', [:NATIONAL_ID, FFaker::IdentificationIN.aadhaar]], 'IN', 'text')
  emit(['주민등록번호 ', [:NATIONAL_ID, FFaker::IdentificationKr.rrn]], 'KR', 'text')
  emit(['CURP ', [:NATIONAL_ID, FFaker::IdentificationMX.curp]], 'MX', 'text')
  emit(['RFC ', [:NATIONAL_ID, FFaker::IdentificationMX.rfc_persona_fisica]], 'MX', 'text')
  emit(['NSS ', [:NATIONAL_ID, FFaker::SSNMX.ssn]], 'MX', 'text')
  emit(['PESEL ', [:NATIONAL_ID, FFaker::IdentificationPL.pesel]], 'PL', 'text')
  emit(['dowód osobisty ', [:NATIONAL_ID, FFaker::IdentificationPL.identity_card]], 'PL', 'text')
  emit(['身分證字號 ', [:NATIONAL_ID, FFaker::IdentificationTW.id]], 'TW', 'text')
  emit(['personnummer ', [:NATIONAL_ID, FFaker::SSNSE.ssn]], 'SE', 'text')
end
OUT.close if opts[:out]
