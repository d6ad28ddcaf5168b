# frozen_string_literal: true

# The output line of this project's Ruby generators (rbfaker_contacts.rb, ffaker_contacts.rb),
# the format of generate.mjs (README.md): a text, its labeled spans as UTF-8 byte offsets, the
# template's kind and the generator.
require 'json'
require 'optparse'

# parts: strings, and [entity, value] pairs that become labeled spans (nil entity: unlabeled).
def labeled_line(parts, gen, kind)
  text = +''
  spans = []
  parts.each do |p|
    if p.is_a?(Array)
      start = text.bytesize
      text << p[1].to_s
      spans << { 'start' => start, 'end' => text.bytesize, 'entity' => p[0].to_s } if p[0]
    else
      text << p
    end
  end
  JSON.generate({ 'text' => text, 'spans' => spans, 'kind' => kind, 'gen' => gen })
end

# The command line both take: --seed N, --per-locale N, --out FILE (stdout without it).
def generator_options(per_locale)
  opts = { seed: 1, per: per_locale, out: nil }
  OptionParser.new do |o|
    o.on('--seed N', Integer) { |v| opts[:seed] = v }
    o.on('--per-locale N', Integer) { |v| opts[:per] = v }
    o.on('--out FILE') { |v| opts[:out] = v }
  end.parse!
  opts
end
