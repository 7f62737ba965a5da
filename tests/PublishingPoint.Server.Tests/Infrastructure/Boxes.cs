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
}
