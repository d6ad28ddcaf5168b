#!/usr/bin/ruby
# frozen_string_literal: true

# Contact data from a third outside generator this project does not shape: Ruby's Faker
# (Debian's ruby-faker 2.21), every locale it ships but its joke ones, each value as that
# locale writes it (first and last names, phone_number, cell_phone, cell_phone_with_country_code,
# street_address, secondary_address, email, birthday; US SSNs; Spain's DNI, Brazil's CPF, South
# Africa's, Chile's and Croatia's ids with their check digits; IBANs; cards), in contact, ticket,
# shipping, CSV, TSV and JSON templates of this project, with companies, cities, catch phrases
# and products of the same locales as unlabeled hard negatives. Same output format as
# generate.mjs (README.md): UTF-8 byte offsets.
#
#     /usr/bin/ruby tests/data/rbfaker_contacts.rb --seed 1 [--per-locale 30] --out FILE
#
# Values Faker itself spoils are left out: e-mail addresses whose local part it could not
# transliterate ("####@example.org"), phones its es-MX formats cut short ("81-").

require 'faker'
require_relative 'labeled_line'

opts = generator_options(30)

RND = Random.new(opts[:seed])
Faker::Config.random = Random.new(opts[:seed] + 1)
LOCALE_DIR = File.join(File.dirname(Gem.find_files('faker.rb').first), 'locales')
LOCALES = Dir.children(LOCALE_DIR).map { |f| f.sub(/\.yml\z/, '') }
             .reject { |l| l =~ /BORK|ocker|README|\Aen\z/ }.sort
OUT = opts[:out] ? File.open(opts[:out], 'w') : $stdout

def emit(parts, locale, kind)
  OUT.puts labeled_line(parts, "rbfaker:#{locale}", kind)
end

# A locale without a provider raises; such a value is simply not generated.
def value
  yield
rescue StandardError, I18n::MissingTranslationData
  nil
end

DOB_FORMATS = ['%d.%m.%Y', '%m/%d/%Y', '%Y-%m-%d', '%d/%m/%Y', '%B %-d, %Y'].freeze

LOCALES.each do |loc|
  Faker::Config.locale = loc
  opts[:per].times do
    first = value { Faker::Name.first_name }
    last = value { Faker::Name.last_name }
    name = if first && last
             loc =~ /\A(zh|ja|ko)/ ? "#{last}#{first}" : "#{first} #{last}"
           end
    phone = value { Faker::PhoneNumber.phone_number }
    cell = value { Faker::PhoneNumber.cell_phone }
    intl = value { Faker::PhoneNumber.cell_phone_with_country_code }
    street = value { Faker::Address.street_address }
    unit = value { Faker::Address.secondary_address }
    city = value { Faker::Address.city }.to_s
    email = value { Faker::Internet.email(name: name) }
    email = nil if email&.include?('#')
    # es-MX's formats come out cut short ("81-", "+675 (899) "): no phone to find.
    phone, cell, intl = [phone, cell, intl].map { |x| x && x.count('0-9') >= 7 ? x : nil }
    dob = value { Faker::Date.birthday(min_age: 18, max_age: 90) }
    order = RND.rand(10_000..99_999_999).to_s
    neg = value { [Faker::Company.name, Faker::Company.catch_phrase, Faker::Commerce.product_name,
                   city].sample(random: RND) }
    case RND.rand(10)
    when 0
      if name && phone
        emit(['Customer ', [:PERSON_NAME, name], ' called from ', [:PHONE, phone],
              ' about order #', order, '.'], loc, 'text')
      end
    when 1
      if name && cell && street && email
        emit([[:PERSON_NAME, name], ',', [:EMAIL, email], ',', [:PHONE, cell], ',',
              [:STREET_ADDRESS, street], ',', city], loc, 'row')
      end
    when 2
      if name && intl && street
        emit(['{"name":"', [:PERSON_NAME, name], '","mobile":"', [:PHONE, intl],
              '","address":"', [:STREET_ADDRESS, street], '"}'], loc, 'json')
      end
    when 3
      if name && street
        emit(['Ship to: ', [:PERSON_NAME, name], ', ', [:STREET_ADDRESS, street],
              unit ? ' ' : '', unit ? [:STREET_ADDRESS, unit] : '', ', ', city], loc, 'text')
      end
    when 4
      if name && phone && dob
        emit(['Patient ', [:PERSON_NAME, name], ', DOB: ',
              [:DATE_OF_BIRTH, dob.strftime(DOB_FORMATS.sample(random: RND))], ', tel. ',
              [:PHONE, phone]], loc, 'text')
      end
    when 5
      if first && street && cell
        emit(['Hi ', [:PERSON_NAME, first], ', your parcel to ', [:STREET_ADDRESS, street],
              ' is on its way. Questions? Call ', [:PHONE, cell]], loc, 'text')
      end
    when 6
      if name && phone
        emit(['name: ', [:PERSON_NAME, name], "\tphone: ", [:PHONE, phone], "\torder: ", order,
              "\tcity: ", city], loc, 'row')
      end
    when 7
      emit(['contact: ', [:PERSON_NAME, name], ' <', [:EMAIL, email], '>'], loc, 'text') if name && email
    when 8
      emit(['Address: ', [:STREET_ADDRESS, street], '; phone ', [:PHONE, phone]], loc, 'text') if street && phone
    when 9
      emit(['Order ', order, ' for ', [nil, neg], ' shipped from ', [nil, city], '.'], loc, 'text') if neg
    end
  end
end

# Numbers with check digits, as the generator makes them.
Faker::Config.locale = 'en-US'
opts[:per].times do
  emit(['ssn: ', [:US_SSN, Faker::IDNumber.valid]], 'en-US', 'text')
  emit(['SSN ', [:US_SSN, Faker::IDNumber.ssn_valid]], 'en-US', 'text')
  emit(['IBAN: ', [:IBAN, Faker::Bank.iban(country_code: %w[GB DE FR ES IT NL BE PL PT].sample(random: RND))]],
       'en-US', 'text')
  emit(['DNI ', [:NATIONAL_ID, Faker::IDNumber.spanish_citizen_number]], 'es', 'text')
  emit(['CPF ', [:NATIONAL_ID, Faker::IDNumber.brazilian_citizen_number(formatted: [true, false].sample(random: RND))]],
       'pt-BR', 'text')
  emit(['ID number ', [:NATIONAL_ID, Faker::IDNumber.valid_south_african_id_number]], 'en-ZA', 'text')
  emit(['RUT ', [:NATIONAL_ID, Faker::IDNumber.chilean_id]], 'es', 'text')
  emit(['OIB ', [:NATIONAL_ID, Faker::IDNumber.croatian_id]], 'hr', 'text')
  # Faker's cards include lengths no network issues (20 digits): only those of 13 to 19 count.
  card = Faker::Finance.credit_card
  emit(['card ', [:CREDIT_CARD, card]], 'en-US', 'text') if card.count('0-9').between?(13, 19)
end
OUT.close if opts[:out]
