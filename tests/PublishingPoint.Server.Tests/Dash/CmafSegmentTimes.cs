using System.Buffers.Binary;
using System.Text;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>Reads a CMAF media segment's 'tfdt' and sample times, to hold them against the MPD's timeline.</summary>
public static class CmafSegmentTimes
{
    /// <summary>The earliest presentation time of the segment's samples and the decode time after its last one.</summary>
    public static (long Earliest, long End, int Samples) Read(byte[] segment)
    {
        long earliest = long.MaxValue, end = 0;
        var count = 0;
        foreach (var (type, payload) in Children(segment, 0, segment.Length))
        {
            if (type != "moof")
            {
                continue;
            }

            foreach (var (trafType, traf) in Children(segment, payload.Start, payload.End))
            {
                if (trafType != "traf")
                {
                    continue;
                }

                long decode = 0;
                uint defaultDuration = 0;
                foreach (var (box, body) in Children(segment, traf.Start, traf.End))
                {
                    var data = segment.AsSpan(body.Start, body.End - body.Start);
                    var version = data[0];
                    var flags = BinaryPrimitives.ReadUInt32BigEndian(data) & 0xFFFFFF;
                    if (box == "tfhd")
                    {
                        var at = 8 + ((flags & 0x1) != 0 ? 8 : 0) + ((flags & 0x2) != 0 ? 4 : 0);
                        defaultDuration = (flags & 0x8) != 0 ? BinaryPrimitives.ReadUInt32BigEndian(data[at..]) : 0;
                    }
                    else if (box == "tfdt")
                    {
                        decode = version == 1 ? (long)BinaryPrimitives.ReadUInt64BigEndian(data[4..]) : BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                    }
                    else if (box == "trun")
                    {
                        var samples = (int)BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                        var at = 8 + ((flags & 0x1) != 0 ? 4 : 0) + ((flags & 0x4) != 0 ? 4 : 0);
                        for (var i = 0; i < samples; i++)
                        {
                            var duration = defaultDuration;
                            if ((flags & 0x100) != 0)
                            {
                                duration = BinaryPrimitives.ReadUInt32BigEndian(data[at..]);
                                at += 4;
                            }

                            at += ((flags & 0x200) != 0 ? 4 : 0) + ((flags & 0x400) != 0 ? 4 : 0);
                            long cts = 0;
                            if ((flags & 0x800) != 0)
                            {
                                cts = version == 1 ? BinaryPrimitives.ReadInt32BigEndian(data[at..]) : BinaryPrimitives.ReadUInt32BigEndian(data[at..]);
                                at += 4;
                            }

                            earliest = Math.Min(earliest, decode + cts);
                            decode += duration;
                            count++;
                        }

                        end = decode;
                    }
                }
            }
        }

        return (earliest, end, count);
    }

    private static IEnumerable<(string Type, (int Start, int End) Payload)> Children(byte[] data, int from, int to)
    {
        var at = from;
        while (at + 8 <= to)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
            if (size < 8 || at + size > to)
            {
                yield break;
            }

            yield return (Encoding.ASCII.GetString(data, at + 4, 4), (at + 8, at + size));
            at += size;
        }
    }
}
