using System.Buffers.Binary;
using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

/// <summary>Packs PES packets into TS by hand: PAT, a PMT with one ADTS stream (plus an SDT-like unknown table), payload packets.</summary>
internal static class HandMadeTs
{
    public static byte[] Build(int audioPid, List<byte[]> pes)
    {
        var output = new List<byte>();
        var cc = 0;
        output.AddRange(Section(0, 0x00, [0x00, 0x01, 0xF0, 0x00])); // program 1 -> PMT PID 0x1000
        output.AddRange(Section(0x1000, 0x02, [0xE1, 0x01, 0xF0, 0x00, 0x06, 0xE2, 0x00, 0xF0, 0x00, 0x0F, (byte)(0xE0 | (audioPid >> 8)), (byte)audioPid, 0xF0, 0x00]));
        foreach (var packet in pes)
        {
            for (var at = 0; at < packet.Length; at += 184)
            {
                var chunk = packet.AsSpan(at, Math.Min(184, packet.Length - at));
                var ts = new byte[188];
                ts[0] = 0x47;
                ts[1] = (byte)((at == 0 ? 0x40 : 0) | (audioPid >> 8));
                ts[2] = (byte)audioPid;
                if (chunk.Length == 184)
                {
                    ts[3] = (byte)(0x10 | (cc++ & 0xF));
                    chunk.CopyTo(ts.AsSpan(4));
                }
                else
                {
                    // adaptation field stuffing to fill the packet
                    ts[3] = (byte)(0x30 | (cc++ & 0xF));
                    var adaptation = 183 - chunk.Length;
                    ts[4] = (byte)adaptation;
                    if (adaptation > 0)
                    {
                        ts[5] = 0;
                        ts.AsSpan(6, adaptation - 1).Fill(0xFF);
                    }

                    chunk.CopyTo(ts.AsSpan(5 + adaptation));
                }

                output.AddRange(ts);
            }
        }

        return [.. output];
    }

    private static byte[] Section(int pid, byte tableId, byte[] body)
    {
        var section = new List<byte> { tableId, 0, 0, 0x00, 0x01, 0xC1, 0x00, 0x00 };
        section.AddRange(body);
        var length = section.Count - 3 + 4;
        section[1] = (byte)(0xB0 | (length >> 8));
        section[2] = (byte)length;
        var crc = Crc32Mpeg2.Compute(section.ToArray());
        var crcBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crcBytes, crc);
        section.AddRange(crcBytes);

        var ts = new byte[188];
        Array.Fill(ts, (byte)0xFF);
        ts[0] = 0x47;
        ts[1] = (byte)(0x40 | (pid >> 8));
        ts[2] = (byte)pid;
        ts[3] = 0x10;
        ts[4] = 0;
        section.CopyTo(ts, 5);
        return ts;
    }
}
