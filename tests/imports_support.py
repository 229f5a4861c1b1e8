"""Writers of the files `hub import` reads, in each app's real format, for the import tests.

Each follows the format's public description: Apple Health's export.xml (HealthData with a DTD,
Record elements), Clarity's and LibreView's CSV layouts, Gadgetbridge's Export DB tables, and
the FIT protocol (header, definition and data messages, CRC-16) for Garmin files.
"""

from __future__ import annotations

import sqlite3
import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

APPLE_PROLOGUE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
 <ExportDate value="2024-11-01 09:00:00 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1980-01-01"
  HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
"""
WATCH = "Anna\u2019s Apple Watch"  # the Health app writes a typographic apostrophe
WATCH_DEVICE = "<<HKDevice: 0x283a>, name:Apple Watch, manufacturer:Apple Inc., model:Watch>"


def apple_record(
    kind: str,
    value: str,
    start: str,
    end: str | None = None,
    unit: str | None = None,
    source: str = WATCH,
    metadata: bool = False,
) -> str:
    """One Record element as the Health app writes it."""
    short = kind.startswith("HKCategory")
    attributes = {
        "type": kind,
        "sourceName": source,
        "sourceVersion": "10.3",
        "device": WATCH_DEVICE,
        **({} if short or unit is None else {"unit": unit}),
        "creationDate": start,
        "startDate": start,
        "endDate": end or start,
        "value": value,
    }
    text = " ".join(f"{name}={quoteattr(item)}" for name, item in attributes.items())
    if not metadata:
        return f" <Record {text}/>\n"
    return (
        f" <Record {text}>\n"
        '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>\n'
        " </Record>\n"
    )


def write_apple_export(path: Path, records: Iterable[str], zipped: bool = True) -> Path:
    """An export.zip (apple_health_export/export.xml inside) or a bare export.xml."""
    if not zipped:
        with path.open("w", encoding="utf-8") as out:
            out.write(APPLE_PROLOGUE)
            out.writelines(records)
            out.write("</HealthData>\n")
        return path
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("apple_health_export/export.xml", "w", force_zip64=True) as member:
            member.write(APPLE_PROLOGUE.encode())
            chunk: list[str] = []
            for record in records:
                chunk.append(record)
                if len(chunk) >= 5000:
                    member.write("".join(chunk).encode())
                    chunk.clear()
            member.write("".join(chunk).encode())
            member.write(b"</HealthData>\n")
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
    return path


CLARITY_HEADER = [
    "Index",
    "Timestamp (YYYY-MM-DDThh:mm:ss)",
    "Event Type",
    "Event Subtype",
    "Patient Info",
    "Device Info",
    "Source Device ID",
    "Glucose Value (mg/dL)",
    "Insulin Value (u)",
    "Carb Value (grams)",
    "Duration (hh:mm:ss)",
    "Glucose Rate of Change (mg/dL/min)",
    "Transmitter Time (Long Integer)",
    "Transmitter ID",
]


def write_clarity(
    path: Path, readings: Sequence[tuple[str, str]], mmol: bool = False, start_tick: int = 5000
) -> Path:
    """A Clarity export: patient and device rows, then one EGV row per (timestamp, value)."""
    header = list(CLARITY_HEADER)
    if mmol:
        header[7] = "Glucose Value (mmol/L)"
        header[11] = "Glucose Rate of Change (mmol/L/min)"
    lines = [
        ",".join(header),
        "1,,FirstName,,Anna,,,,,,,,,",
        "2,,LastName,,Muster,,,,,,,,,",
        "3,,Device,,,Dexcom G6 Mobile App,Android G6,,,,,,,",
        "4,,Alert,Fall,,,Android G6,3,,,,,,",
    ]
    for index, (stamp, value) in enumerate(readings):
        tick = start_tick + index * 300
        lines.append(f"{index + 5},{stamp},EGV,,,,Android G6,{value},,,,,{tick},8ABC12")
    lines.append(f"{len(readings) + 5},2024-06-01T12:00:00,Carbs,,,,Android G6,,,45,,,,")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return path


LIBRE_HEADER = (
    "Device,Serial Number,Device Timestamp,Record Type,Historic Glucose {unit},"
    "Scan Glucose {unit},Non-numeric Rapid-Acting Insulin,Rapid-Acting Insulin (units),"
    "Non-numeric Food,Carbohydrates (grams),Carbohydrates (servings),"
    "Non-numeric Long-Acting Insulin,Long-Acting Insulin (units),Notes,Strip Glucose {unit},"
    "Ketone mmol/L,Meal Insulin (units),Correction Insulin (units),User Change Insulin (units)"
)


def libre_row(stamp: str, record_type: int, value: str, serial: str = "ABC1-23456") -> str:
    """One LibreView row: historic (0) or scan (1) glucose, or another type with no glucose."""
    cells = ["FreeStyle LibreLink", serial, stamp, str(record_type)] + [""] * 15
    if record_type == 0:
        cells[4] = value
    elif record_type == 1:
        cells[5] = value
    elif record_type == 5:
        cells[9] = value  # food: carbohydrates
    return ",".join(cells)


def write_libreview(path: Path, rows: Sequence[str], unit: str = "mg/dL") -> Path:
    """A LibreView export: the 'generated on' line, the header, then the rows."""
    lines = [
        "Glucose Data,Generated on,11-02-2024 10:15 UTC,Generated by,Anna Muster",
        LIBRE_HEADER.format(unit=unit),
        *rows,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def write_gadgetbridge(path: Path) -> Path:
    """A Gadgetbridge Export DB with a Mi Band's minutes and an SpO2 table in milliseconds."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE "DEVICE" ("_id" INTEGER PRIMARY KEY AUTOINCREMENT, "NAME" TEXT NOT NULL,
            "MANUFACTURER" TEXT NOT NULL, "IDENTIFIER" TEXT NOT NULL UNIQUE, "TYPE" INTEGER NOT
            NULL, "MODEL" TEXT, "ALIAS" TEXT);
        CREATE TABLE "USER" ("_id" INTEGER PRIMARY KEY AUTOINCREMENT, "NAME" TEXT NOT NULL);
        CREATE TABLE "MI_BAND_ACTIVITY_SAMPLE" ("TIMESTAMP" INTEGER NOT NULL, "DEVICE_ID"
            INTEGER NOT NULL, "USER_ID" INTEGER NOT NULL, "RAW_INTENSITY" INTEGER NOT NULL,
            "STEPS" INTEGER NOT NULL, "RAW_KIND" INTEGER NOT NULL, "HEART_RATE" INTEGER NOT NULL,
            PRIMARY KEY ("TIMESTAMP", "DEVICE_ID"));
        CREATE TABLE "HUAMI_SPO2_SAMPLE" ("TIMESTAMP" INTEGER NOT NULL, "DEVICE_ID" INTEGER NOT
            NULL, "USER_ID" INTEGER NOT NULL, "TYPE_NUM" INTEGER NOT NULL, "SPO2" INTEGER NOT
            NULL, PRIMARY KEY ("TIMESTAMP", "DEVICE_ID"));
        CREATE TABLE "BATTERY_LEVEL" ("TIMESTAMP" INTEGER NOT NULL, "DEVICE_ID" INTEGER NOT
            NULL, "LEVEL" INTEGER NOT NULL);
        INSERT INTO DEVICE VALUES (1, 'Mi Band 5', 'Huami', 'C8:0F:10:AA:BB:CC', 58, '', NULL);
        INSERT INTO USER VALUES (1, 'anna');
        """
    )
    base = 1_717_200_000  # 2024-06-01 00:00:00 UTC
    db.executemany(
        "INSERT INTO MI_BAND_ACTIVITY_SAMPLE VALUES (?, 1, 1, 20, ?, 1, ?)",
        [
            (base, 12, 64),
            (base + 60, 0, 255),  # no steps, heart rate not measured
            (base + 120, 95, 71),
            (base + 180, -1, -1),
            (base + 240, 30, 10),  # a heart rate below the kind's range
        ],
    )
    db.executemany(
        "INSERT INTO HUAMI_SPO2_SAMPLE VALUES (?, 1, 1, 0, ?)",
        [((base + 3600) * 1000, 97), ((base + 7200) * 1000, 95)],
    )
    db.execute("INSERT INTO BATTERY_LEVEL VALUES (?, 1, 80)", [base])
    db.commit()
    db.close()
    return path


# FIT: the protocol's CRC-16 (its nibble table) and base types.
_CRC_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip
ENUM, UINT8, UINT16, UINT32, UINT32Z = 0x00, 0x02, 0x84, 0x86, 0x8C
_FORMATS = {ENUM: "B", UINT8: "B", UINT16: "H", UINT32: "I", UINT32Z: "I"}
FIT_EPOCH = 631_065_600


def fit_crc(data: bytes, crc: int = 0) -> int:
    """The FIT CRC-16 of ``data``."""
    for byte in data:
        for nibble in (byte & 0xF, byte >> 4):
            tmp = _CRC_TABLE[crc & 0xF]
            crc = (crc >> 4) & 0x0FFF
            crc = crc ^ tmp ^ _CRC_TABLE[nibble]
    return crc


class FitWriter:
    """Builds a FIT file: a definition per local message type, then data messages."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.defined: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = {}

    def message(self, local: int, global_num: int, fields: Sequence[tuple[int, int, int]]) -> None:
        """One data message; ``fields`` are (field number, base type, value)."""
        layout = tuple((number, base) for number, base, _ in fields)
        if self.defined.get(local) != (global_num, layout):
            self.body += struct.pack("<BBBHB", 0x40 | local, 0, 0, global_num, len(layout))
            for number, base in layout:
                self.body += struct.pack("<BBB", number, struct.calcsize(_FORMATS[base]), base)
            self.defined[local] = (global_num, layout)
        self.body += bytes([local])
        for _, base, value in fields:
            self.body += struct.pack("<" + _FORMATS[base], value)

    def file_id(self, serial: int, kind: int = 32, created: int = 1_100_000_000) -> None:
        """The file_id message (32: a monitoring file, 4: an activity)."""
        self.message(
            0, 0, [(0, ENUM, kind), (1, UINT16, 1), (3, UINT32Z, serial), (4, UINT32, created)]
        )

    def data(self) -> bytes:
        """The whole file: header with its CRC, the messages, the file CRC."""
        header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(self.body), b".FIT")
        header += struct.pack("<H", fit_crc(header))
        content = header + bytes(self.body)
        return content + struct.pack("<H", fit_crc(content))


def fit_time(unix: int) -> int:
    """Unix seconds as FIT seconds (since 1989-12-31 UTC)."""
    return unix - FIT_EPOCH
