using System.Buffers.Binary;
using System.Text;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// ISO/IEC 23009-1 5.10.3.3 DASHEventMessageBox ('emsg'): an event (SCTE-35 cue, ID3 tag, ...) carried in a
/// fragmented MP4 stream.
/// <code>
/// FullBox('emsg', version, 0)
///   version 0: string scheme_id_uri; string value; uint32 timescale; uint32 presentation_time_delta;
///              uint32 event_duration; uint32 id; (delta from the earliest presentation time of the segment)
///   version 1: uint32 timescale; uint64 presentation_time; uint32 event_duration; uint32 id;
///              string scheme_id_uri; string value;                 (absolute, on the track's timeline)
///   uint8 message_data[];
/// </code>
/// </summary>
public sealed record EmsgBox(byte Version, string SchemeIdUri, string Value, uint Timescale, long PresentationTime, uint EventDuration, uint Id, byte[] MessageData)
{
    /// <summary>event_duration when the duration is not known.</summary>
    public const uint UnknownDuration = 0xFFFF_FFFF;

    /// <summary>Reads the payload after the box header; false when it is malformed.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out EmsgBox? emsg)
    {
        emsg = null;
        if (payload.Length < 4 || payload[0] > 1)
        {
            return false;
        }

        var version = payload[0];
        var rest = payload[4..];
        if (version == 0)
        {
            if (!TryString(ref rest, out var scheme) || !TryString(ref rest, out var value) || rest.Length < 16)
            {
                return false;
            }

            emsg = new EmsgBox(0, scheme, value, BinaryPrimitives.ReadUInt32BigEndian(rest), BinaryPrimitives.ReadUInt32BigEndian(rest[4..]),
                BinaryPrimitives.ReadUInt32BigEndian(rest[8..]), BinaryPrimitives.ReadUInt32BigEndian(rest[12..]), rest[16..].ToArray());
            return true;
        }

        if (rest.Length < 20)
        {
            return false;
        }

        var timescale = BinaryPrimitives.ReadUInt32BigEndian(rest);
        var time = BinaryPrimitives.ReadUInt64BigEndian(rest[4..]);
        var duration = BinaryPrimitives.ReadUInt32BigEndian(rest[12..]);
        var id = BinaryPrimitives.ReadUInt32BigEndian(rest[16..]);
        rest = rest[20..];
        if (time > long.MaxValue || !TryString(ref rest, out var scheme1) || !TryString(ref rest, out var value1))
        {
            return false;
        }

        emsg = new EmsgBox(1, scheme1, value1, timescale, (long)time, duration, id, rest.ToArray());
        return true;
    }

    /// <summary>The whole box.</summary>
    public byte[] Write()
    {
        var scheme = Encoding.UTF8.GetBytes(SchemeIdUri);
        var value = Encoding.UTF8.GetBytes(Value);
        var size = 8 + 4 + scheme.Length + 1 + value.Length + 1 + (Version == 0 ? 16 : 20) + MessageData.Length;
        var box = new byte[size];
        var w = new SpanWriter(box);
        w.FullBox(FourCC.From("emsg"), size, Version, 0);
        if (Version == 0)
        {
            Strings(ref w, scheme, value);
            w.UInt32(Timescale);
            w.UInt32((uint)PresentationTime);
            w.UInt32(EventDuration);
            w.UInt32(Id);
        }
        else
        {
            w.UInt32(Timescale);
            w.UInt64((ulong)PresentationTime);
            w.UInt32(EventDuration);
            w.UInt32(Id);
            Strings(ref w, scheme, value);
        }

        w.Bytes(MessageData);
        return box;
    }

    private static void Strings(ref SpanWriter w, byte[] scheme, byte[] value)
    {
        w.Bytes(scheme);
        w.UInt8(0);
        w.Bytes(value);
        w.UInt8(0);
    }

    private static bool TryString(ref ReadOnlySpan<byte> rest, out string text)
    {
        var end = rest.IndexOf((byte)0);
        if (end < 0 || end > 1024)
        {
            text = string.Empty;
            return false;
        }

        text = Encoding.UTF8.GetString(rest[..end]);
        rest = rest[(end + 1)..];
        return true;
    }
}
