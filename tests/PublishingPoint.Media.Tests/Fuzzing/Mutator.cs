using System.Buffers.Binary;
using System.Text;

namespace PublishingPoint.Media.Tests.Fuzzing;

/// <summary>What a seed is, so the mutator knows its structure.</summary>
internal enum SeedKind
{
    /// <summary>ISO-BMFF: Smooth (ismv) or CMAF/fragmented MP4.</summary>
    Fmp4,

    /// <summary>MPEG-2 transport stream, 188-byte packets.</summary>
    Ts,

    /// <summary>A SMIL server manifest (XML).</summary>
    Smil,
}

/// <summary>
/// Structure-aware, deterministic mutations. Everything comes from the <see cref="Random"/> it is given, so a seed
/// and an iteration reproduce a mutant exactly; <see cref="Applied"/> says what was done, for the failure report.
/// Self-contained (no reference to the code under test), so the server tests can link it too.
/// </summary>
internal sealed class Mutator(Random random)
{
    private static readonly uint[] _interesting32 =
        [0, 1, 2, 7, 8, 9, 15, 16, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 0x40000000, 0x3FFFFFFF];

    private static readonly string[] _containers = ["moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts", "dinf", "mfra", "udta"];

    private static readonly string[] _smilNames = ["smil", "head", "body", "switch", "video", "audio", "textstream", "param", "meta", "par", "seq"];

    private static readonly string[] _smilAttributes = ["systemBitrate", "src", "systemLanguage", "name", "value", "trackID", "trackName", "content"];

    public List<string> Applied { get; } = [];

    /// <summary>Applies 1..<paramref name="maxMutations"/> mutations of the kind's family.</summary>
    public byte[] Mutate(byte[] seed, SeedKind kind, int maxMutations = 3)
    {
        ArgumentNullException.ThrowIfNull(seed);
        var data = seed;
        var count = 1 + random.Next(maxMutations);
        for (var i = 0; i < count; i++)
        {
            data = kind switch
            {
                SeedKind.Fmp4 => MutateBoxes(data),
                SeedKind.Ts => MutateTs(data),
                _ => MutateXml(data),
            };
        }

        return data;
    }

    // ---------------------------------------------------------------- ISO-BMFF

    private sealed record Box(int Offset, int HeaderLength, long Size, string Type, Box? Parent);

    private static List<Box> Tree(byte[] data)
    {
        var boxes = new List<Box>();
        Walk(data, 0, data.Length, null, boxes, 0);
        return boxes;
    }

    private static void Walk(byte[] data, int from, int to, Box? parent, List<Box> boxes, int depth)
    {
        var at = from;
        while (at + 8 <= to && depth < 12)
        {
            long size = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            var type = Encoding.ASCII.GetString(data, at + 4, 4);
            var header = 8;
            if (size == 1 && at + 16 <= to)
            {
                size = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(at + 8)), long.MaxValue);
                header = 16;
            }

            if (type == "uuid")
            {
                header += 16;
            }

            if (size < header || size > to - at)
            {
                return;
            }

            var box = new Box(at, header, size, type, parent);
            boxes.Add(box);
            if (Array.IndexOf(_containers, type) >= 0)
            {
                Walk(data, at + header, at + (int)size, box, boxes, depth + 1);
            }
            else if (type == "stsd" && size >= header + 8)
            {
                Walk(data, at + header + 8, at + (int)size, box, boxes, depth + 1);
            }

            at += (int)size;
        }
    }

    private byte[] MutateBoxes(byte[] data)
    {
        var boxes = Tree(data);
        if (boxes.Count == 0 || data.Length < 8)
        {
            return MutateBytes(data);
        }

        var box = Pick(boxes);
        switch (random.Next(12))
        {
            case 0:
                return MutateBytes(data);
            case 1:
                return RewriteSize(data, box);
            case 2:
                {
                    Note($"duplicate '{box.Type}' at {box.Offset}");
                    var copy = data.AsSpan(box.Offset, (int)box.Size).ToArray();
                    return Resize(data, box.Offset + (int)box.Size, 0, copy, box.Parent);
                }

            case 3:
                Note($"drop '{box.Type}' at {box.Offset}");
                return Resize(data, box.Offset, (int)box.Size, [], box.Parent);
            case 4:
                return Reorder(data, boxes, box);
            case 5:
                {
                    var cut = box.Offset + random.Next((int)Math.Min(box.Size, int.MaxValue));
                    Note($"truncate at {cut} (inside '{box.Type}')");
                    return data[..cut];
                }

            case 6:
            case 7:
                return CorruptTrun(data, boxes);
            case 8:
                return CorruptTfhd(data, boxes);
            case 9:
                {
                    // An interesting value in a 32-bit field of a payload.
                    var payload = (int)box.Size - box.HeaderLength;
                    if (payload < 4)
                    {
                        return MutateBytes(data);
                    }

                    var at = box.Offset + box.HeaderLength + (4 * random.Next(Math.Min(payload / 4, 64)));
                    var value = Pick(_interesting32);
                    Note($"'{box.Type}' field at {at} = 0x{value:X}");
                    var output = (byte[])data.Clone();
                    BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(at), value);
                    return output;
                }

            case 10:
                {
                    // Payload bytes of a leaf box overwritten (codec configs, sample entries, tfxd).
                    var payload = (int)box.Size - box.HeaderLength;
                    if (payload < 1)
                    {
                        return MutateBytes(data);
                    }

                    var output = (byte[])data.Clone();
                    var n = 1 + random.Next(4);
                    for (var i = 0; i < n; i++)
                    {
                        var at = box.Offset + box.HeaderLength + random.Next(payload);
                        output[at] = (byte)random.Next(256);
                    }

                    Note($"{n} payload bytes of '{box.Type}' at {box.Offset}");
                    return output;
                }

            default:
                {
                    // Change a type to another known one.
                    string[] types = ["moof", "mdat", "moov", "trak", "traf", "trun", "tfhd", "tfdt", "mfra", "ftyp", "styp", "uuid", "free", "avcC", "esds", "stsd"];
                    var type = Pick(types);
                    Note($"retype '{box.Type}' at {box.Offset} to '{type}'");
                    var output = (byte[])data.Clone();
                    Encoding.ASCII.GetBytes(type).CopyTo(output, box.Offset + 4);
                    return output;
                }
        }
    }

    private byte[] RewriteSize(byte[] data, Box box)
    {
        var output = (byte[])data.Clone();
        var span = output.AsSpan(box.Offset);
        switch (random.Next(7))
        {
            case 0:
                Note($"size 0 for '{box.Type}' at {box.Offset}");
                BinaryPrimitives.WriteUInt32BigEndian(span, 0);
                return output;
            case 1:
                {
                    // size 1 with a 64-bit largesize inserted: the true size, or a huge or tiny one.
                    var large = random.Next(3) switch
                    {
                        0 => (ulong)box.Size + 8,
                        1 => ulong.MaxValue - (ulong)random.Next(16),
                        _ => (ulong)random.Next(24),
                    };
                    Note($"size 1, largesize {large} for '{box.Type}' at {box.Offset}");
                    if (box.HeaderLength >= 16)
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(span[8..], large);
                        return output;
                    }

                    var inserted = new byte[8];
                    BinaryPrimitives.WriteUInt64BigEndian(inserted, large);
                    var result = Resize(output, box.Offset + 8, 0, inserted, box.Parent);
                    BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(box.Offset), 1);
                    return result;
                }

            case 2:
                {
                    var value = random.Next(2) == 0 ? 0xFFFFFFFFu : 0x7FFFFFFFu + (uint)random.Next(16);
                    Note($"size {value} for '{box.Type}' at {box.Offset}");
                    BinaryPrimitives.WriteUInt32BigEndian(span, value);
                    return output;
                }

            case 3:
                {
                    var value = (uint)random.Next(2, 8 + 16 + 1);
                    Note($"size {value} (smaller than a header?) for '{box.Type}' at {box.Offset}");
                    BinaryPrimitives.WriteUInt32BigEndian(span, value);
                    return output;
                }

            case 4:
                {
                    var value = (uint)Math.Min(uint.MaxValue, box.Size + 1 + random.Next(64));
                    Note($"size {value} (past the end) for '{box.Type}' at {box.Offset}");
                    BinaryPrimitives.WriteUInt32BigEndian(span, value);
                    return output;
                }

            default:
                {
                    var value = (uint)Math.Max(0, box.Size - 1 - random.Next((int)Math.Min(box.Size, 64)));
                    Note($"size {value} (shrunk) for '{box.Type}' at {box.Offset}");
                    BinaryPrimitives.WriteUInt32BigEndian(span, value);
                    return output;
                }
        }
    }

    private byte[] Reorder(byte[] data, List<Box> boxes, Box box)
    {
        var siblings = boxes.Where(b => b.Parent == box.Parent && b != box).ToList();
        if (siblings.Count == 0)
        {
            return MutateBytes(data);
        }

        var other = Pick(siblings);
        var (first, second) = box.Offset < other.Offset ? (box, other) : (other, box);
        Note($"swap '{first.Type}' at {first.Offset} with '{second.Type}' at {second.Offset}");
        var output = new List<byte>(data.Length);
        output.AddRange(data.AsSpan(0, first.Offset));
        output.AddRange(data.AsSpan(second.Offset, (int)second.Size));
        output.AddRange(data.AsSpan(first.Offset + (int)first.Size, second.Offset - first.Offset - (int)first.Size));
        output.AddRange(data.AsSpan(first.Offset, (int)first.Size));
        output.AddRange(data.AsSpan(second.Offset + (int)second.Size));
        return [.. output];
    }

    private byte[] CorruptTrun(byte[] data, List<Box> boxes)
    {
        var truns = boxes.Where(b => b.Type == "trun" && b.Size - b.HeaderLength >= 8).ToList();
        if (truns.Count == 0)
        {
            return MutateBytes(data);
        }

        var trun = Pick(truns);
        var output = (byte[])data.Clone();
        var payload = output.AsSpan(trun.Offset + trun.HeaderLength);
        var payloadLength = (int)trun.Size - trun.HeaderLength;
        switch (random.Next(5))
        {
            case 0:
                {
                    var count = BinaryPrimitives.ReadUInt32BigEndian(payload[4..]);
                    uint[] choices = [0, 1, count + 1, count - 1, count * 2, 0xFFFFFFFF, 0x7FFFFFFF, 0x40000000, 0x10000000];
                    var value = Pick(choices);
                    Note($"trun at {trun.Offset}: sample_count {count} -> {value}");
                    BinaryPrimitives.WriteUInt32BigEndian(payload[4..], value);
                    break;
                }

            case 1:
                {
                    uint[] bits = [0x1, 0x4, 0x100, 0x200, 0x400, 0x800];
                    var flags = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0xFFFFFF;
                    var bit = Pick(bits);
                    var version = (uint)random.Next(3);
                    Note($"trun at {trun.Offset}: toggle flag 0x{bit:X}, version {version}");
                    BinaryPrimitives.WriteUInt32BigEndian(payload, (version << 24) | (flags ^ bit));
                    break;
                }

            case 2:
                {
                    var flags = (uint)random.Next(0x1000);
                    Note($"trun at {trun.Offset}: flags 0x{flags:X}");
                    BinaryPrimitives.WriteUInt32BigEndian(payload, ((uint)payload[0] << 24) | flags);
                    break;
                }

            case 3:
                {
                    if (payloadLength >= 12 && (payload[3] & 0x1) != 0)
                    {
                        int[] offsets = [0, -1, -8, int.MaxValue, int.MinValue, int.MaxValue - 16, 1 << 20, random.Next(-4096, 4096)];
                        var value = Pick(offsets);
                        Note($"trun at {trun.Offset}: data_offset {value}");
                        BinaryPrimitives.WriteInt32BigEndian(payload[8..], value);
                    }
                    else
                    {
                        return MutateBytes(data);
                    }

                    break;
                }

            default:
                {
                    // A sample entry field: duration, size, flags or composition offset.
                    if (payloadLength < 16)
                    {
                        return MutateBytes(data);
                    }

                    var at = 8 + (4 * random.Next((payloadLength - 8) / 4));
                    var value = Pick(_interesting32);
                    Note($"trun at {trun.Offset}: entry word at {at} = 0x{value:X}");
                    BinaryPrimitives.WriteUInt32BigEndian(payload[at..], value);
                    break;
                }
        }

        return output;
    }

    private byte[] CorruptTfhd(byte[] data, List<Box> boxes)
    {
        var tfhds = boxes.Where(b => b.Type is "tfhd" or "tfdt" or "trex" or "mdhd" && b.Size - b.HeaderLength >= 8).ToList();
        if (tfhds.Count == 0)
        {
            return MutateBytes(data);
        }

        var box = Pick(tfhds);
        var output = (byte[])data.Clone();
        var payload = output.AsSpan(box.Offset + box.HeaderLength);
        if (random.Next(2) == 0)
        {
            uint[] bits = [0x1, 0x2, 0x8, 0x10, 0x20, 0x10000, 0x20000, 0x01000000];
            var bit = Pick(bits);
            Note($"'{box.Type}' at {box.Offset}: toggle version/flag 0x{bit:X}");
            BinaryPrimitives.WriteUInt32BigEndian(payload, BinaryPrimitives.ReadUInt32BigEndian(payload) ^ bit);
        }
        else
        {
            var value = Pick(_interesting32);
            Note($"'{box.Type}' at {box.Offset}: second word = 0x{value:X}");
            BinaryPrimitives.WriteUInt32BigEndian(payload[4..], value);
        }

        return output;
    }

    /// <summary>Replaces [at, at+remove) with <paramref name="insert"/> and keeps every enclosing box's size right.</summary>
    private static byte[] Resize(byte[] data, int at, int remove, byte[] insert, Box? parent)
    {
        var output = new byte[data.Length - remove + insert.Length];
        data.AsSpan(0, at).CopyTo(output);
        insert.CopyTo(output, at);
        data.AsSpan(at + remove).CopyTo(output.AsSpan(at + insert.Length));
        var delta = insert.Length - remove;
        for (var p = parent; p is not null; p = p.Parent)
        {
            if (p.HeaderLength >= 16 && BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(p.Offset)) == 1)
            {
                BinaryPrimitives.WriteUInt64BigEndian(output.AsSpan(p.Offset + 8), (ulong)(p.Size + delta));
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(p.Offset), (uint)(p.Size + delta));
            }
        }

        return output;
    }

    // ---------------------------------------------------------------- bytes

    private byte[] MutateBytes(byte[] data)
    {
        if (data.Length == 0)
        {
            Note("empty -> one random byte");
            return [(byte)random.Next(256)];
        }

        var output = (byte[])data.Clone();
        switch (random.Next(4))
        {
            case 0:
                {
                    var n = 1 + random.Next(8);
                    for (var i = 0; i < n; i++)
                    {
                        var at = random.Next(output.Length);
                        output[at] ^= (byte)(1 << random.Next(8));
                    }

                    Note($"flip {n} bits");
                    return output;
                }

            case 1:
                {
                    var at = random.Next(output.Length);
                    var n = Math.Min(1 + random.Next(16), output.Length - at);
                    random.NextBytes(output.AsSpan(at, n));
                    Note($"{n} random bytes at {at}");
                    return output;
                }

            case 2:
                {
                    var at = random.Next(output.Length);
                    byte[] values = [0, 1, 0x7F, 0x80, 0xFF, 0x47];
                    output[at] = Pick(values);
                    Note($"byte at {at} = 0x{output[at]:X2}");
                    return output;
                }

            default:
                {
                    var at = random.Next(output.Length);
                    var n = Math.Min(1 + random.Next(256), output.Length - at);
                    Note($"cut {n} bytes at {at}");
                    return [.. output.AsSpan(0, at), .. output.AsSpan(at + n)];
                }
        }
    }

    // ---------------------------------------------------------------- MPEG-TS

    private byte[] MutateTs(byte[] data)
    {
        const int Packet = 188;
        var packets = data.Length / Packet;
        if (packets < 2)
        {
            return MutateBytes(data);
        }

        var output = (byte[])data.Clone();
        var index = PickPacket(output, packets);
        var p = output.AsSpan(index * Packet, Packet);
        switch (random.Next(13))
        {
            case 0:
                p[0] = random.Next(2) == 0 ? (byte)0 : (byte)random.Next(256);
                Note($"packet {index}: sync byte 0x{p[0]:X2}");
                break;
            case 1:
                {
                    int[] pids = [0, 0x1000, 0x100, 0x101, 0x1FFF, random.Next(0x2000), Pid(output, random.Next(packets))];
                    var pid = Pick(pids);
                    p[1] = (byte)((p[1] & 0xE0) | (pid >> 8));
                    p[2] = (byte)pid;
                    Note($"packet {index}: PID 0x{pid:X}");
                    break;
                }

            case 2:
                {
                    var control = random.Next(4);
                    p[3] = (byte)((p[3] & 0xCF) | (control << 4));
                    Note($"packet {index}: adaptation_field_control {control}");
                    break;
                }

            case 3:
                {
                    byte[] lengths = [0, 1, 182, 183, 184, 185, 255, (byte)random.Next(256)];
                    p[3] |= 0x20;
                    p[4] = Pick(lengths);
                    Note($"packet {index}: adaptation_field_length {p[4]}");
                    break;
                }

            case 4:
                {
                    // PES_packet_length of a PES that starts here.
                    var start = PayloadStart(p);
                    if ((p[1] & 0x40) == 0 || start + 6 > Packet)
                    {
                        return MutateBytes(output);
                    }

                    ushort[] lengths = [0, 1, 3, 8, 0xFFFF, 0x8000, (ushort)random.Next(0x10000)];
                    var value = Pick(lengths);
                    BinaryPrimitives.WriteUInt16BigEndian(p[(start + 4)..], value);
                    Note($"packet {index}: PES_packet_length {value}");
                    break;
                }

            case 5:
                {
                    // PES header: flags, PES_header_data_length, PTS bytes.
                    var start = PayloadStart(p);
                    if ((p[1] & 0x40) == 0 || start + 14 > Packet)
                    {
                        return MutateBytes(output);
                    }

                    var at = start + 6 + random.Next(8);
                    p[at] = (byte)(random.Next(2) == 0 ? 0xFF : random.Next(256));
                    Note($"packet {index}: PES header byte {at - start} = 0x{p[at]:X2}");
                    break;
                }

            case 6:
                {
                    // PAT/PMT: pointer_field or section_length.
                    var section = PickPacket(output, packets, psi: true);
                    var s = output.AsSpan(section * Packet, Packet);
                    var start = PayloadStart(s);
                    if (start + 4 > Packet)
                    {
                        return MutateBytes(output);
                    }

                    if (random.Next(3) == 0)
                    {
                        s[start] = (byte)random.Next(256);
                        Note($"packet {section}: pointer_field {s[start]}");
                    }
                    else
                    {
                        int[] lengths = [0, 1, 5, 9, 12, 13, 0x3FD, 0x3FE, 0xFFF, random.Next(0x1000)];
                        var value = Pick(lengths);
                        var at = start + 1 + s[start];
                        if (at + 3 > Packet)
                        {
                            return MutateBytes(output);
                        }

                        s[at + 1] = (byte)((s[at + 1] & 0xF0) | (value >> 8));
                        s[at + 2] = (byte)value;
                        Note($"packet {section}: section_length {value}");
                    }

                    break;
                }

            case 7:
                p[3] = (byte)((p[3] & 0xF0) | random.Next(16));
                Note($"packet {index}: continuity_counter {p[3] & 0xF}");
                break;
            case 8:
                p[1] ^= (byte)(random.Next(2) == 0 ? 0x40 : 0x80);
                Note($"packet {index}: toggle PUSI/TEI");
                break;
            case 9:
                {
                    var count = 1 + random.Next(Math.Min(8, packets - index));
                    Note($"drop {count} packets at {index}");
                    return [.. output.AsSpan(0, index * Packet), .. output.AsSpan((index + count) * Packet)];
                }

            case 10:
                {
                    Note($"duplicate packet {index}");
                    return [.. output.AsSpan(0, (index + 1) * Packet), .. output.AsSpan(index * Packet)];
                }

            case 11:
                {
                    var garbage = new byte[1 + random.Next(400)];
                    random.NextBytes(garbage);
                    var at = random.Next(output.Length);
                    Note($"insert {garbage.Length} garbage bytes at {at}");
                    return [.. output.AsSpan(0, at), .. garbage, .. output.AsSpan(at)];
                }

            default:
                return MutateBytes(output);
        }

        return output;
    }

    /// <summary>Favours packets that matter (PSI, PES starts) over the many continuation packets.</summary>
    private int PickPacket(byte[] data, int packets, bool psi = false)
    {
        for (var attempt = 0; attempt < 32; attempt++)
        {
            var index = random.Next(packets);
            var p = data.AsSpan(index * 188, 188);
            var pid = ((p[1] & 0x1F) << 8) | p[2];
            var isPsi = pid is 0 or 0x1000;
            if (psi ? isPsi : (isPsi || (p[1] & 0x40) != 0 || random.Next(4) == 0))
            {
                return index;
            }
        }

        return random.Next(packets);
    }

    private static int Pid(byte[] data, int index) => ((data[(index * 188) + 1] & 0x1F) << 8) | data[(index * 188) + 2];

    private static int PayloadStart(ReadOnlySpan<byte> p) => (p[3] & 0x20) != 0 ? 5 + p[4] : 4;

    // ---------------------------------------------------------------- XML

    private byte[] MutateXml(byte[] data)
    {
        var text = Encoding.UTF8.GetString(data);
        switch (random.Next(6))
        {
            case 0:
                Note("random SMIL document");
                return Encoding.UTF8.GetBytes(RandomSmil());
            case 1:
                {
                    string[] pieces = ["<", ">", "&", "&amp;", "&#0;", "&#xFFFF;", "\"", "'", "<!--", "]]>", "<![CDATA[", "</video>", "<video>", "<param name=\"trackID\" value=\"-1\"/>", "<!DOCTYPE smil [<!ENTITY a \"aaaa\">]>", "<?xml version=\"1.0\"?>", "\0", "\uFFFE", "xmlns:x=\"y\""];
                    var piece = Pick(pieces);
                    var at = random.Next(text.Length + 1);
                    Note($"insert '{piece}' at {at}");
                    return Encoding.UTF8.GetBytes(text.Insert(at, piece));
                }

            case 2:
                {
                    string[] names = ["systemBitrate", "trackID", "value", "src", "MaxWidth", "SamplingRate", "CodecPrivateData"];
                    var name = Pick(names);
                    string[] values = ["", "-1", "99999999999999999999", "0x10", "NaN", "1e9", "2147483648", new string('9', 400), "zz"];
                    var value = Pick(values);
                    Note($"every {name} value -> '{value}'");
                    return Encoding.UTF8.GetBytes(System.Text.RegularExpressions.Regex.Replace(text, name + "=\"[^\"]*\"", $"{name}=\"{value}\"").Replace($"name=\"{name}\" value=\"", $"name=\"{name}\" value=\"{value}", StringComparison.Ordinal));
                }

            case 3:
                {
                    var depth = random.Next(1, 3000);
                    Note($"nest {depth} elements");
                    var nested = new StringBuilder();
                    for (var i = 0; i < depth; i++)
                    {
                        nested.Append(i % 2 == 0 ? "<video>" : "<param name=\"a\">");
                    }

                    var at = Math.Max(0, text.IndexOf("<body>", StringComparison.Ordinal));
                    return Encoding.UTF8.GetBytes(text.Insert(at, nested.ToString()));
                }

            case 4:
                {
                    var bytes = (byte[])data.Clone();
                    if (bytes.Length == 0)
                    {
                        return [0xFF, 0xFE];
                    }

                    var n = 1 + random.Next(4);
                    for (var i = 0; i < n; i++)
                    {
                        bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    }

                    Note($"{n} random bytes (invalid UTF-8 likely)");
                    return bytes;
                }

            default:
                return MutateBytes(data);
        }
    }

    private string RandomSmil()
    {
        var text = new StringBuilder();
        if (random.Next(2) == 0)
        {
            text.Append("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        }

        var open = new Stack<string>();
        var steps = random.Next(1, 60);
        for (var i = 0; i < steps; i++)
        {
            if (open.Count > 0 && random.Next(3) == 0)
            {
                text.Append("</").Append(open.Pop()).Append('>');
                continue;
            }

            var name = Pick(_smilNames);
            text.Append('<').Append(name);
            var attributes = random.Next(4);
            for (var a = 0; a < attributes; a++)
            {
                text.Append(' ').Append(Pick(_smilAttributes)).Append("=\"").Append(RandomValue()).Append('"');
            }

            if (random.Next(2) == 0)
            {
                text.Append("/>");
            }
            else
            {
                text.Append('>');
                open.Push(name);
            }
        }

        // Close most of the time, so well-formed documents reach the track reader too.
        if (random.Next(4) != 0)
        {
            while (open.Count > 0)
            {
                text.Append("</").Append(open.Pop()).Append('>');
            }
        }

        return text.ToString();
    }

    private string RandomValue() => random.Next(5) switch
    {
        0 => random.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
        1 => (-random.Next()).ToString(System.Globalization.CultureInfo.InvariantCulture),
        2 => "",
        3 => Convert.ToHexString(RandomBytes(random.Next(40))),
        _ => Pick(["video", "audio", "trackID", "FourCC", "H264", "AACL", "eng", "..", "a/b"]),
    };

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private void Note(string what) => Applied.Add(what);
}
