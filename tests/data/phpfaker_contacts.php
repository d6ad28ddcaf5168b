<?php
// Contact data from a fourth outside generator this project does not shape: PHP's Faker
// (Debian's php-faker 1.20, fzaninotto/Faker, MIT), every locale it ships (75), each value as
// that locale's providers write it (first and last names, phoneNumber, e164PhoneNumber,
// streetAddress, email, a birth date; ssn, personalIdentityNumber and idNumber where a locale
// has them, iban), in contact, shipping, CSV and JSON templates of this project, with
// companies, cities and catch phrases of the same locales as unlabeled hard negatives. Same
// output format as generate.mjs (README.md): UTF-8 byte offsets.
//
//     php tests/data/phpfaker_contacts.php --seed 1 [--per-locale 40] --out FILE

require_once '/usr/share/php/Faker/autoload.php';

$opts = getopt('', ['seed:', 'per-locale:', 'out:']);
$seed = intval($opts['seed'] ?? 1);
$per = intval($opts['per-locale'] ?? 40);
$out = isset($opts['out']) ? fopen($opts['out'], 'w') : STDOUT;
mt_srand($seed);

$dir = '/usr/share/php/Faker/Provider';
$locales = array_values(array_filter(scandir($dir), fn($d) => preg_match('/^[a-z]{2}_[A-Z]/', $d)));

// parts: strings, and [entity, value] pairs that become labeled spans (null entity: unlabeled).
function emit($out, array $parts, string $loc, string $kind): void {
  $text = '';
  $spans = [];
  foreach ($parts as $p) {
    if (is_array($p)) {
      $s = strlen($text);
      $text .= $p[1];
      if ($p[0] !== null && $p[1] !== '') $spans[] = ['start' => $s, 'end' => strlen($text), 'entity' => $p[0]];
    } else {
      $text .= $p;
    }
  }
  fwrite($out, json_encode(['text' => $text, 'spans' => $spans, 'kind' => $kind, 'gen' => "phpfaker:$loc"],
                           JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n");
}

// A value, or null where the locale has no such provider.
function value(callable $f): ?string {
  try {
    $x = $f();
    return is_string($x) && $x !== '' ? $x : null;
  } catch (\Throwable $e) {
    return null;
  }
}

$formats = ['d.m.Y', 'm/d/Y', 'Y-m-d', 'd/m/Y', 'F j, Y'];
foreach ($locales as $loc) {
  $f = \Faker\Factory::create($loc);
  $f->seed($seed + crc32($loc));
  for ($i = 0; $i < $per; $i++) {
    $first = value(fn() => $f->firstName());
    $last = value(fn() => $f->lastName());
    $name = ($first && $last) ? (preg_match('/^(zh|ja|ko)/', $loc) ? "$last$first" : "$first $last") : null;
    $phone = value(fn() => $f->phoneNumber());
    $e164 = value(fn() => $f->e164PhoneNumber());
    $street = value(fn() => $f->streetAddress());
    $city = value(fn() => $f->city()) ?? '';
    $email = value(fn() => $f->email());
    $dob = value(fn() => $f->dateTimeBetween('-90 years', '-18 years')->format($formats[mt_rand(0, 4)]));
    $ssn = value(fn() => $f->ssn());
    $pin = value(fn() => $f->personalIdentityNumber());
    $idn = value(fn() => $f->idNumber());
    $iban = value(fn() => $f->iban(null));
    $neg = value(fn() => [$f->company(), $f->catchPhrase(), $city][mt_rand(0, 2)]);
    $order = strval(mt_rand(10000, 99999999));
    switch (mt_rand(0, 10)) {
      case 0:
        if ($name && $phone) emit($out, ['Customer ', ['PERSON_NAME', $name], ' called from ', ['PHONE', $phone], ' about order #', $order, '.'], $loc, 'text');
        break;
      case 1:
        if ($name && $phone && $street && $email) emit($out, [['PERSON_NAME', $name], ',', ['EMAIL', $email], ',', ['PHONE', $phone], ',', ['STREET_ADDRESS', $street], ',', $city], $loc, 'row');
        break;
      case 2:
        if ($name && $e164 && $street) emit($out, ['{"name":"', ['PERSON_NAME', $name], '","mobile":"', ['PHONE', $e164], '","address":"', ['STREET_ADDRESS', $street], '"}'], $loc, 'json');
        break;
      case 3:
        if ($name && $street) emit($out, ['Ship to: ', ['PERSON_NAME', $name], ', ', ['STREET_ADDRESS', $street], ', ', $city], $loc, 'text');
        break;
      case 4:
        if ($name && $phone && $dob) emit($out, ['Patient ', ['PERSON_NAME', $name], ', DOB: ', ['DATE_OF_BIRTH', $dob], ', tel. ', ['PHONE', $phone]], $loc, 'text');
        break;
      case 5:
        if ($ssn) emit($out, ['ssn: ', ['NATIONAL_ID', $ssn]], $loc, 'text');
        break;
      case 6:
        if ($pin) emit($out, ['personal identity number: ', ['NATIONAL_ID', $pin]], $loc, 'text');
        elseif ($idn) emit($out, ['national id: ', ['NATIONAL_ID', $idn]], $loc, 'text');
        break;
      case 7:
        if ($iban) emit($out, ['IBAN ', ['IBAN', $iban]], $loc, 'text');
        break;
      case 8:
        if ($street && $phone) emit($out, ['Address: ', ['STREET_ADDRESS', $street], '; phone ', ['PHONE', $phone]], $loc, 'text');
        break;
      case 9:
        if ($name && $email) emit($out, ['contact: ', ['PERSON_NAME', $name], ' <', ['EMAIL', $email], '>'], $loc, 'text');
        break;
      case 10:
        if ($neg) emit($out, ['Order ', $order, ' for ', [null, $neg], ' shipped from ', [null, $city], '.'], $loc, 'text');
        break;
    }
  }
}
if ($out !== STDOUT) fclose($out);
