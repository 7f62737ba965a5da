using System.Buffers.Binary;
using System.Text;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>Top-level ISO-BMFF walking for tests, independent of the server's readers.</summary>
public static class Boxes
{
    public static List<(string Type, int Offset, int Size)> TopLevel(byte[] data)
    {
        var boxes = new List<(string, int, int)>();
        var at = 0;
        while (at + 8 <= data.Length)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            var type = Encoding.ASCII.GetString(data, at + 4, 4);
            if (size < 8 || at + size > data.Length)
            {
                break;
            }

            boxes.Add((type, at, size));
            at += size;
        }

        return boxes;
    }

    private static readonly byte[] _tfxd = Convert.FromHexString("6d1d9b0542d544e680e2141daff757b2");

    /// <summary>The usertype of MS-SSTR's 'tfxd' uuid box.</summary>
    public static byte[] TfxdUserType => (byte[])_tfxd.Clone();

    /// <summary>Moves a Smooth fragment (moof with a 'tfxd') in time: its tfxd absolute time plus <paramref name="delta"/>.</summary>
    public static byte[] ShiftTfxd(byte[] fragment, long delta)
    {
        var copy = (byte[])fragment.Clone();
        var at = copy.AsSpan().IndexOf(_tfxd);
        if (at < 0)
        {
            throw new InvalidDataException("no tfxd in this fragment");
        }

        var versionAt = at + _tfxd.Length;
        var timeAt = versionAt + 4;
        if (copy[versionAt] == 1)
        {
            BinaryPrimitives.WriteInt64BigEndian(copy.AsSpan(timeAt), BinaryPrimitives.ReadInt64BigEndian(copy.AsSpan(timeAt)) + delta);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(timeAt), (uint)(BinaryPrimitives.ReadUInt32BigEndian(copy.AsSpan(timeAt)) + delta));
        }

        return copy;
    }

    /// <summary>The fragment's 'tfxd' time (version 1: 64 bits, its track's timescale).</summary>
    public static long TfxdTime(byte[] fragment)
    {
        var at = fragment.AsSpan().IndexOf(_tfxd);
        if (at < 0 || fragment[at + _tfxd.Length] != 1)
        {
            throw new InvalidDataException("no version 1 tfxd in this fragment");
        }

        return BinaryPrimitives.ReadInt64BigEndian(fragment.AsSpan(at + _tfxd.Length + 4));
    }

    /// <summary>The first 'tfdt' decode time in a media segment or part (version 1: 64 bits, else 32).</summary>
    public static long TfdtTime(byte[] segment)
    {
        var at = segment.AsSpan().IndexOf("tfdt"u8);
        if (at < 4)
        {
            throw new InvalidDataException("no tfdt in this segment");
        }

        var value = segment.AsSpan(at + 8);
        return segment[at + 4] == 1 ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadUInt32BigEndian(value);
    }

    /// <summary>The track id of a fragment's (first) 'tfhd', read from <paramref name="at"/> on (where its 'moof' starts).</summary>
    public static uint TrackId(byte[] data, int at = 0) =>
        BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at + data.AsSpan(at).IndexOf("tfhd"u8) + 8));

    /// <summary>A CMAF chunk moved in time: its 'tfdt' plus <paramref name="delta"/> (version 1: 64 bits, else 32).</summary>
    public static byte[] ShiftTfdt(byte[] chunk, long delta)
    {
        var copy = (byte[])chunk.Clone();
        var at = copy.AsSpan().IndexOf("tfdt"u8);
        var value = copy.AsSpan(at + 8);
        if (copy[at + 4] == 1)
        {
            BinaryPrimitives.WriteInt64BigEndian(value, BinaryPrimitives.ReadInt64BigEndian(value) + delta);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(value, (uint)(BinaryPrimitives.ReadUInt32BigEndian(value) + delta));
        }

        return copy;
    }

    /// <summary>The fragment with its 'tfxd' duration set to <paramref name="duration"/> (its own timescale).</summary>
    public static byte[] SetTfxdDuration(byte[] fragment, long duration)
    {
        var copy = (byte[])fragment.Clone();
        var at = copy.AsSpan().IndexOf(_tfxd);
        if (at < 0 || copy[at + _tfxd.Length] != 1)
        {
            throw new InvalidDataException("no version 1 tfxd in this fragment");
        }

        BinaryPrimitives.WriteInt64BigEndian(copy.AsSpan(at + _tfxd.Length + 4 + 8), duration);
        return copy;
    }

    /// <summary>A Smooth capture cut into its header boxes and its fragments (each moof with its mdat).</summary>
    public static (byte[] Header, List<byte[]> Fragments) SplitFragments(byte[] capture)
    {
        var boxes = TopLevel(capture);
        var firstMoof = boxes.First(b => b.Type == "moof").Offset;
        var fragments = new List<byte[]>();
        for (var i = 0; i < boxes.Count; i++)
        {
            if (boxes[i].Type == "moof" && i + 1 < boxes.Count && boxes[i + 1].Type == "mdat")
            {
                fragments.Add(capture[boxes[i].Offset..(boxes[i + 1].Offset + boxes[i + 1].Size)]);
            }
        }

        return (capture[..firstMoof], fragments);
    }

    /// <summary>
    /// A fragment (moof+mdat) whose 'moof' ends with a 'free' box of <paramref name="padding"/> bytes: the same media,
    /// a larger 'moof' (its trun data_offset moved past the padding).
    /// </summary>
    public static byte[] PadMoof(byte[] fragment, int padding)
    {
        var moofSize = (int)BinaryPrimitives.ReadUInt32BigEndian(fragment);
        var padded = new byte[fragment.Length + padding];
        fragment.AsSpan(0, moofSize).CopyTo(padded);
        BinaryPrimitives.WriteUInt32BigEndian(padded.AsSpan(moofSize), (uint)padding);
        "free"u8.CopyTo(padded.AsSpan(moofSize + 4));
        fragment.AsSpan(moofSize).CopyTo(padded.AsSpan(moofSize + padding));
        BinaryPrimitives.WriteUInt32BigEndian(padded, (uint)(moofSize + padding));
        var trun = padded.AsSpan(0, moofSize).IndexOf("trun"u8) - 4;
        var flags = BinaryPrimitives.ReadUInt32BigEndian(padded.AsSpan(trun + 8)) & 0xFFFFFF;
        if ((flags & 1) != 0)
        {
            var at = padded.AsSpan(trun + 16);
            BinaryPrimitives.WriteInt32BigEndian(at, BinaryPrimitives.ReadInt32BigEndian(at) + padding);
        }

        return padded;
    }

    /// <summary>Writes a box header (32-bit size, type) at <paramref name="at"/>; returns where its payload starts.</summary>
    public static int WriteHeader(byte[] bytes, int at, int size, string type)
    {
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at), size);
        System.Text.Encoding.ASCII.GetBytes(type, bytes.AsSpan(at + 4));
        return at + 8;
    }
}
